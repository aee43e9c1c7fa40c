package main

import (
	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/examples/users"
	_ "github.com/jetflow/jetflow/internal/bench/userbench" // bench drives the users domain
)

func main() {
	app := jetflow.New()
	users.Register(app)
	app.Main()
}
