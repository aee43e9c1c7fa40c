package users

import (
	"github.com/jetflow/jetflow"
)

// Register adds the users domain to app: the User aggregate with its
// commands, the users read model with its queries, and the workload
// `jetflow bench` drives them with. It is all a program needs to serve
// and measure it:
//
//	app := jetflow.New()
//	users.Register(app)
//	app.Main()
func Register(app *jetflow.App) {
	jetflow.Aggregate(app, AggregateType, NewUser, RegisterCommands)
	jetflow.ReadModel(app, ReadModel, Projection, NewDirectory, RegisterQueries)
	app.Bench(benchWorkload())
}
