package jetflow

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/app"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// ErrInvalidRegistration reports a part App cannot run: no name, nothing
// to run, or a name registered twice. Main and Run return it, naming the
// part, before anything starts.
var ErrInvalidRegistration = app.ErrInvalidDomain

// App collects a domain's parts and runs them. Register everything before
// calling Main, Run or Command; an App is not safe for concurrent
// registration.
type App struct {
	domain app.Domain
	errs   []error
}

// New returns an App with nothing registered.
func New() *App { return &App{} }

// Aggregate registers an aggregate type and its commands. serve builds its
// repository with the configuration's snapshot, cache and conflict-retry
// settings, then opts (which win), and passes it to commands, which adds
// the command handlers (aggregates.Handle) to the command service.
func Aggregate[S aggregates.State](a *App, aggregateType string, newState func() S,
	commands func(svc *aggregates.Service, repo *aggregates.Repository[S]) error, opts ...aggregates.RepositoryOption) {
	if newState == nil || commands == nil {
		a.errs = append(a.errs, fmt.Errorf("%w: aggregate %q needs a state constructor and its commands", ErrInvalidRegistration, aggregateType))
		return
	}
	a.domain.Aggregates = append(a.domain.Aggregates, app.Aggregate{
		Type: aggregateType,
		Register: func(svc *aggregates.Service, store *streams.Store, snaps *streams.Snapshots, base []aggregates.RepositoryOption) error {
			repo, err := aggregates.NewRepository(aggregateType, newState, store, snaps, append(base, opts...)...)
			if err != nil {
				return err
			}
			return commands(svc, repo)
		},
	})
}

// Projection registers a projection whose read model is only stored (in
// its KV bucket), with no queries served from memory. projection
// describes it for the event store layout in use; the configuration's
// [projections.<name>] section overrides its bucket, subjects, retries,
// backoff and in-flight limit.
func (a *App) Projection(name string, projection func(streams.Config) projections.Projection) {
	a.readModel(name, projection, nil)
}

// ReadModel registers a projection together with its read model held in
// memory and the queries answered from it (projections.RegisterQuery, on
// subjects query.<read model>.<query>). newModel makes an empty model for
// each generation loaded.
func ReadModel[M projections.Model](a *App, name string, projection func(streams.Config) projections.Projection,
	newModel func() M, queries func(svc *projections.QueryService, view *projections.View[M]) error) {
	if newModel == nil || queries == nil {
		a.errs = append(a.errs, fmt.Errorf("%w: read model %q needs a model constructor and its queries", ErrInvalidRegistration, name))
		return
	}
	a.readModel(name, projection, func(nc *nats.Conn, cfg projections.Config, p projections.Projection, opts ...projections.Option) (app.View, error) {
		v, err := projections.NewView(nc, cfg, p, newModel, opts...)
		if err != nil {
			return nil, err
		}
		return queryView[M]{View: v, queries: queries}, nil
	})
}

func (a *App) readModel(name string, projection func(streams.Config) projections.Projection,
	newView func(*nats.Conn, projections.Config, projections.Projection, ...projections.Option) (app.View, error)) {
	if projection == nil {
		a.errs = append(a.errs, fmt.Errorf("%w: read model %q has no projection", ErrInvalidRegistration, name))
		return
	}
	a.domain.ReadModels = append(a.domain.ReadModels, app.ReadModel{
		Name: name,
		Projection: func(cfg streams.Config) projections.Projection {
			p := projection(cfg)
			if p.Name == "" {
				p.Name = name
			}
			return p
		},
		NewView: newView,
	})
}

// queryView is a view with the queries registered over it.
type queryView[M projections.Model] struct {
	*projections.View[M]
	queries func(*projections.QueryService, *projections.View[M]) error
}

func (v queryView[M]) RegisterQueries(svc *projections.QueryService) error {
	return v.queries(svc, v.View)
}

// Worker registers a subscription run by serve with its own handler: to a
// topic (consumers.Subscription.Topic) or to the event stream
// (Subscription.Stream and Subjects from rt.Streams; the handler decodes
// each event with consumers.Message.Event). subscription is called once
// serve is connected, so its handler may keep rt.Conn to send commands
// or publish. serve adds panic recovery, logging, metrics and the
// dead-letter queue of the [dlq] section; the subscription's filters,
// retries, backoff, priorities and concurrency are its own.
func (a *App) Worker(name string, subscription func(rt Runtime) consumers.Subscription) {
	if subscription == nil {
		a.errs = append(a.errs, fmt.Errorf("%w: worker %q has no subscription", ErrInvalidRegistration, name))
		return
	}
	a.domain.Workers = append(a.domain.Workers, app.Worker{Name: name, Subscription: func(rt app.Runtime) consumers.Subscription {
		return subscription(publicRuntime(rt))
	}})
}

func publicRuntime(rt app.Runtime) Runtime {
	return Runtime{
		Conn: rt.Conn, JetStream: rt.JetStream, Streams: rt.Streams,
		CommandPrefix: rt.CommandPrefix, QueryPrefix: rt.QueryPrefix, Logger: rt.Logger,
	}
}

// Runtime is what a running platform lends a worker's handler or a
// component.
type Runtime struct {
	// Conn is serve's NATS connection; handlers must not close it.
	Conn      *nats.Conn
	JetStream jetstream.JetStream
	// Streams is the event store layout: the stream's name and subject
	// prefix, for subscriptions to events.
	Streams streams.Config
	// CommandPrefix and QueryPrefix are the subject prefixes of the
	// command and query services (commands.subject_prefix,
	// queries.subject_prefix).
	CommandPrefix, QueryPrefix string
	// Logger is serve's logger, with the worker's (or component's) name;
	// lines logged with the context of a command or a message carry its
	// correlation id.
	Logger *slog.Logger
}

// Topic registers a topic serve creates (or updates) before its workers
// start.
func (a *App) Topic(cfg consumers.TopicConfig) {
	a.domain.Topics = append(a.domain.Topics, cfg)
}

// validate reports every registration problem at once.
func (a *App) validate() error {
	return errors.Join(append(append([]error(nil), a.errs...), a.domain.Validate())...)
}
