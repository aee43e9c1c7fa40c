package bench

import (
	"context"
	"log/slog"

	"github.com/jetflow/jetflow/internal/platform"
)

// Domain is the application the command scenarios drive. The jetflow
// binary registers the reference User domain (internal/bench/userbench);
// the bench package does not import it, so library code never depends on
// the example, and a binary built on jetflow without it runs the scenarios
// that need no domain.
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

var registered Domain

// RegisterDomain sets the domain `jetflow bench` drives; call it from an
// init function, before any bench runs.
func RegisterDomain(d Domain) { registered = d }

// RegisteredDomain is the domain RegisterDomain set, or nil.
func RegisteredDomain() Domain { return registered }
