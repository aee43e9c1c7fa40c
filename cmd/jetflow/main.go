package main

import (
	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/examples/users"
)

func main() {
	app := jetflow.New()
	users.Register(app)
	app.Main()
}
