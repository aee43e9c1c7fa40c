package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// ErrInvalidDomain reports a registration serve cannot run: a part without
// a name, or two parts of one kind with the same name.
var ErrInvalidDomain = errors.New("jetflow: invalid domain registration")

// Domain is what a binary built on jetflow runs: the parts its users
// registered through the public jetflow package. Parts are built from the
// configuration when serve starts, so one registration serves every
// configuration (prefixes, buckets, replicas) the binary is run with.
type Domain struct {
	Aggregates []Aggregate
	ReadModels []ReadModel
	Workers    []Worker
	// Topics are created (or updated) when serve starts, before workers.
	Topics []consumers.TopicConfig
	// Bench, when set, is how `jetflow bench` drives the aggregate and the
	// read model it names (bench_domain.go).
	Bench *BenchWorkload
	// Components start after the workers, and stop before them.
	Components []Component
	// Sections are the domain's own configuration sections (sections.go).
	Sections []Section
	// Processes are the process managers serve runs, after the workers
	// (serve_processes.go).
	Processes []Process
	// Authorize, when set, is asked about every command before it runs
	// (aggregates.WithAuthorizer); an error refuses it with a 403.
	Authorize func(ctx context.Context, a aggregates.Authorization) error
	// AuthorizeQuery, when set, is asked about every query before it runs
	// (projections.WithQueryAuthorizer); an error refuses it with a 403.
	AuthorizeQuery func(ctx context.Context, a projections.QueryAuthorization) error
}

// Aggregate is one aggregate type with its commands.
type Aggregate struct {
	Type string
	// Register builds the aggregate's repository with opts (the
	// configuration's snapshot, cache, conflict-retry, logger and metrics
	// options, then the registration's own) and adds its commands to svc.
	Register func(svc *aggregates.Service, store *streams.Store, snaps *streams.Snapshots, opts []aggregates.RepositoryOption) error
}

// ReadModel is one projection and, optionally, the queries over it.
type ReadModel struct {
	Name string
	// Projection describes it for the event store layout in use; serve
	// applies the [projections.<name>] overrides on top.
	Projection func(streams.Config) projections.Projection
	// NewView, when set, keeps the read model in memory and answers its
	// queries; p is the projection with the overrides applied.
	NewView func(nc *nats.Conn, cfg projections.Config, p projections.Projection, opts ...projections.Option) (View, error)
}

// View is a read model held in memory with the queries it answers.
type View interface {
	lifecycle.Component
	WaitLoaded(ctx context.Context) error
	Ready() bool
	RegisterQueries(svc *projections.QueryService) error
}

// Component is a long-running part of the domain's own (an HTTP API, a
// poller) that serve runs with the platform's parts.
type Component struct {
	Name  string
	Build func(Runtime) (lifecycle.Component, error)
}

// Worker is a subscription serve runs with the domain's own handler.
type Worker struct {
	Name string
	// Subscription describes it for the running platform: a subscription
	// to the event stream needs the stream's name and prefix, a handler
	// that sends commands or publishes needs the connection.
	Subscription func(Runtime) consumers.Subscription
}

// Runtime is what serve has started that a domain's handlers may use.
type Runtime struct {
	Conn      *nats.Conn
	JetStream jetstream.JetStream
	Streams   streams.Config
	// CommandPrefix and QueryPrefix are the configured subject prefixes of
	// the command and query services.
	CommandPrefix, QueryPrefix string
	Logger                     *slog.Logger
}

// Validate reports every missing name, missing builder and duplicate.
func (d *Domain) Validate() error {
	if d == nil {
		return nil
	}
	errs := slices.Concat(
		checkEntries("aggregate", d.Aggregates, func(a Aggregate) (string, bool) { return a.Type, a.Register != nil }),
		checkEntries("read model", d.ReadModels, func(r ReadModel) (string, bool) { return r.Name, r.Projection != nil }),
		checkEntries("worker", d.Workers, func(w Worker) (string, bool) { return w.Name, w.Subscription != nil }),
		checkEntries("topic", d.Topics, func(t consumers.TopicConfig) (string, bool) { return t.Name, true }),
		checkEntries("component", d.Components, func(c Component) (string, bool) { return c.Name, c.Build != nil }),
		checkEntries("process", d.Processes, func(p Process) (string, bool) { return p.Name, p.New != nil }),
	)
	errs = append(errs, d.validateBench())
	return errors.Join(errs...)
}

// readModelNamed returns the registration of the read model called name.
func (d *Domain) readModelNamed(name string) (ReadModel, bool) {
	if d == nil {
		return ReadModel{}, false
	}
	for _, r := range d.ReadModels {
		if r.Name == name {
			return r, true
		}
	}
	return ReadModel{}, false
}

// checkEntries reports the registrations of one kind without a name, with
// nothing to run (entry's second result false), or registered twice.
func checkEntries[T any](kind string, items []T, entry func(T) (name string, built bool)) []error {
	var errs []error
	seen := map[string]bool{}
	for i, item := range items {
		n, built := entry(item)
		switch {
		case n == "":
			errs = append(errs, fmt.Errorf("%w: %s %d has no name", ErrInvalidDomain, kind, i+1))
		case seen[n]:
			errs = append(errs, fmt.Errorf("%w: %s %q registered twice", ErrInvalidDomain, kind, n))
		case !built:
			errs = append(errs, fmt.Errorf("%w: %s %q has nothing to run", ErrInvalidDomain, kind, n))
		}
		seen[n] = true
	}
	return errs
}
