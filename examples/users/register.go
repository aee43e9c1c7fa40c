package users

import (
	"github.com/jetflow/jetflow"
)

// Register adds the users domain to app: the User aggregate with its
// commands, and the users read model with its queries. It is all a
// program needs to serve it:
//
//	app := jetflow.New()
//	users.Register(app)
//	app.Main()
func Register(app *jetflow.App) {
	jetflow.Aggregate(app, AggregateType, NewUser, RegisterCommands)
	jetflow.ReadModel(app, ReadModel, Projection, NewDirectory, RegisterQueries)
}
