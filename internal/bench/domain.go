package bench

import (
	"context"
	"log/slog"

	"github.com/jetflow/jetflow/internal/platform"
)

// Domain is the application the command scenarios drive. jetflow bench
// passes the reference User domain; the bench package does not import it,
// so library code never depends on the example.
type Domain interface {
	// StartCommands serves the domain's commands on p until stop is called.
	StartCommands(p *platform.Platform, log *slog.Logger) (stop func(context.Context) error, err error)
	// Create is the subject and body of the command creating aggregate i.
	Create(i int) (subject string, body []byte)
	// Update is the subject and body of the i-th update of aggregate id.
	Update(id string, i int) (subject string, body []byte)
	// Loader loads aggregates through the domain's repository, snapshots on,
	// bypassing any cache; it returns the loaded version.
	Loader(p *platform.Platform) (func(ctx context.Context, id string) (uint64, error), error)
}
