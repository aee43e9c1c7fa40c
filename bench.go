package jetflow

import (
	"fmt"

	"github.com/jetflow/jetflow/internal/app"
)

// BenchWorkload tells `jetflow bench` how to drive the domain registered
// on an App in its command, load-snapshot, projection and query
// scenarios. The bench serves the aggregate's commands, and the read
// model's projection and queries, from the App's own registrations with
// the default configuration, each on an embedded server of its own; the
// workload only says what to send.
//
// Commands and queries are named as registered ("create" is sent on
// cmd.<Aggregate>.create, "get" on query.<ReadModel>.get) and their
// bodies are what a client sends.
type BenchWorkload struct {
	// Aggregate is a registered aggregate type (Aggregate).
	Aggregate string
	// Create is the command creating the i-th aggregate, and its body;
	// every i creates a distinct aggregate.
	Create func(i int) (command string, body []byte)
	// Update is the i-th command changing aggregate id (as a create's
	// reply named it); each one must store an event.
	Update func(id string, i int) (command string, body []byte)

	// ReadModel is a read model registered with its queries (ReadModel)
	// over Aggregate's events; "" leaves the projection and query
	// scenarios out, and then Seed, Get and List stay nil.
	ReadModel string
	// Seed is event n (0-based) of the entity numbered entity, as
	// Aggregate's commands would have stored it: the scenarios write these
	// straight to the event stream, three or four per entity. Event 0
	// creates the entity. data is encoded with encoding/json, as an
	// aggregates.Change's Data is.
	Seed func(entity, n int) (aggregateID, eventType string, data any)
	// Get is the query of the record of aggregate id, and its body, which
	// carries minSequence as min_sequence when it is not 0. Its reply is
	// the record, a JSON object with the aggregate id in "id".
	Get func(id string, minSequence uint64) (query string, body []byte)
	// List is the query of page (0-based) of the records, at least 20 a
	// page, and its body; its reply holds them in "items". variant may
	// pick a filter: every filter must match at least a quarter of the
	// seeded entities, as the scenario reads up to count/80 pages and
	// fails on an empty one.
	List func(page, variant int) (query string, body []byte)
}

// Bench registers the workload `jetflow bench` drives the domain with;
// without one it runs only the scenarios that need no domain (the event
// store, topics and workers). Main, Run and Command report a workload
// that names an aggregate or read model that is not registered, or lacks
// a function, as ErrInvalidRegistration.
func (a *App) Bench(w BenchWorkload) {
	if a.domain.Bench != nil {
		a.errs = append(a.errs, fmt.Errorf("%w: bench workload registered twice", ErrInvalidRegistration))
		return
	}
	iw := app.BenchWorkload(w)
	a.domain.Bench = &iw
}
