package bench

import (
	"context"
	"log/slog"

	"github.com/jetflow/jetflow/internal/platform"
)

// Domain is the application the command scenarios drive: the aggregate a
// program registered on its jetflow.App, with the workload it described
// (App.Bench). The caller passes it in Options; the bench package knows
// no domain of its own, and without one it runs the scenarios that need
// none.
type Domain interface {
	// AggregateType is the wire name of the aggregate the scenarios write.
	AggregateType() string
	// StartCommands serves the domain's commands on p until they are stopped.
	StartCommands(ctx context.Context, p *platform.Platform, log *slog.Logger) (Commands, error)
	// Create is the subject and body of the command creating aggregate i.
	Create(i int) (subject string, body []byte)
	// Update is the subject and body of the i-th update of aggregate id.
	Update(id string, i int) (subject string, body []byte)
}

// Commands is a domain's command service, running.
type Commands interface {
	// Load loads aggregate id through the repository serving its commands,
	// snapshots on, bypassing any cache; it returns the loaded version.
	Load(ctx context.Context, id string) (uint64, error)
	// Stop stops serving the commands.
	Stop(ctx context.Context) error
}
