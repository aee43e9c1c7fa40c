package jetflow

import (
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/app"
	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/processes"
)

// Process registers a process manager (a saga): serve runs it after the
// command service and the workers, configured by [processes.<name>] of
// jetflow.tsk (its bucket, deadline topic, retries, concurrency, how long
// ended instances are kept), with serve's logger, metrics and dead-letter
// queue, then opts (which win). Its commands go to the command service of
// the configured prefix, its deadlines to the deadline topic. A
// definition that does not validate is an ErrInvalidRegistration that
// Main, Run and Command report before anything starts.
//
// `jetflow processes ls` and `jetflow processes show <name> <id>` show its
// instances; jetflowtest.GivenProcess tests it without a server.
func Process[S any](a *App, def processes.Definition[S], opts ...processes.Option) {
	if err := def.Validate(); err != nil {
		a.errs = append(a.errs, fmt.Errorf("%w: process %q: %w", ErrInvalidRegistration, def.Name, err))
		return
	}
	a.domain.Processes = append(a.domain.Processes, app.Process{
		Name: def.Name,
		New: func(nc *nats.Conn, cfg processes.Config, base ...processes.Option) (lifecycle.Component, error) {
			return processes.New(nc, def, cfg, append(base, opts...)...)
		},
	})
}
