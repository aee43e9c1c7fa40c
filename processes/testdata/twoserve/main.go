// Command twoserve is a user's binary with one process manager, tally,
// built by processes/twoserve_test.go, which runs two of its `serve` side
// by side on one NATS server.
package main

import (
	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/processes/testdata/twoserve/tally"
)

func main() {
	app := jetflow.New()
	jetflow.Process(app, tally.Definition())
	app.Main()
}
