package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// Config is how the console guards itself and samples the process's
// metrics.
type Config struct {
	// Token is the secret operators log in with; "" means none, which
	// New accepts only when Loopback is true.
	Token string
	// Loopback is true when the console's address accepts connections
	// from this machine only.
	Loopback bool
	// SampleEvery is how often the overview's chart samples the metrics
	// (default 5s); History how many samples it keeps (default 120: ten
	// minutes at 5s).
	SampleEvery time.Duration
	History     int
}

// Check is one readiness condition, as /readyz checks it: nil when it
// holds, else why not.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// NATSInfo describes the NATS connection for the overview.
type NATSInfo struct {
	// Embedded is true when serve runs the server in its own process.
	Embedded bool
	// URL is the embedded server's client URL, or the configured URLs
	// with any password removed.
	URL string
	// ServerName and ServerVersion describe the embedded server.
	ServerName, ServerVersion string
}

// Deps are the parts of a running platform the console reads and acts
// through: the same libraries, with the same configuration, that the
// jetflow CLI's commands use, so that no console action reaches a NATS
// subject its CLI counterpart does not.
type Deps struct {
	Conn      *nats.Conn
	JetStream jetstream.JetStream
	// Store reads events (jetflow events); Snapshots the last snapshot
	// (nil when the bucket is not there).
	Store     *streams.Store
	Snapshots *streams.Snapshots
	// Commands is the command service: the registered commands and the
	// repositories that load an aggregate's state. nil when the domain
	// registers no aggregate.
	Commands *aggregates.Service
	// CommandPrefix, CommandTimeout and MaxCommandBody are
	// commands.subject_prefix, commands.timeout and commands.max_payload.
	CommandPrefix  string
	CommandTimeout time.Duration
	MaxCommandBody int
	// Projections are the registered projections with their overrides
	// (jetflow projections rebuild builds these), and ProjectionsConfig
	// their layout.
	Projections       []projections.Projection
	ProjectionsConfig projections.Config
	// Processes are the registered process managers with their buckets;
	// the processes page also lists any other instance bucket it finds.
	Processes []ProcessInfo
	// DLQStream is dlq.stream; "" when the dead-letter queue is off.
	DLQStream string
	// Gatherer is the process's own metrics registry.
	Gatherer prometheus.Gatherer
	// Checks are the readiness checks of /readyz.
	Checks []Check
	NATS   NATSInfo
	Logger *slog.Logger
}

// Console is the web console: an http.Handler for /ui/ and a
// lifecycle.Component that owns what runs behind it (the metrics sampler
// and the rebuilds started from the browser). Its pages answer 503 until
// Start and after Stop.
type Console struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	guard   *guard
	handler http.Handler
	pages   *templates
	client  *client.Client
	samples *sampler

	mu      sync.Mutex
	state   runState
	admin   *projections.Admin
	dlq     *consumers.DLQ
	jobs    *rebuilds
	cancel  context.CancelFunc
	workers sync.WaitGroup
	ending  lifecycle.Ending
}

type runState int

const (
	notStarted runState = iota
	running
	stopped
)

// ErrNotRunning is the console's answer (503) before Start and after Stop.
var ErrNotRunning = errors.New("console: not running")

// maxFormOverhead is what a form adds to the largest value it carries:
// the other fields and the percent-encoding of a JSON body, which can
// triple its size.
const maxFormOverhead = 64 << 10

// New builds the console. It refuses (ErrTokenRequired) to run without a
// token on anything but loopback.
func New(cfg Config, deps Deps) (*Console, error) {
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = 5 * time.Second
	}
	if cfg.History <= 1 {
		cfg.History = 120
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	log := deps.Logger.With(slog.String("component", "console"))
	// The guard first: no console at all beyond loopback without a token.
	if deps.MaxCommandBody <= 0 {
		deps.MaxCommandBody = aggregates.DefaultMaxPayload
	}
	g, err := newGuard(cfg.Token, cfg.Loopback, int64(3*deps.MaxCommandBody+maxFormOverhead), log)
	if err != nil {
		return nil, err
	}
	if deps.Conn == nil || deps.JetStream == nil || deps.Store == nil {
		return nil, errors.New("console: a NATS connection, JetStream and the event store are required")
	}
	if deps.CommandTimeout <= 0 {
		deps.CommandTimeout = aggregates.DefaultTimeout
	}
	if deps.CommandPrefix == "" {
		deps.CommandPrefix = aggregates.DefaultSubjectPrefix
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	c := &Console{
		cfg: cfg, deps: deps, log: log, guard: g, pages: pages,
		client:  client.New(deps.Conn, client.WithCommandPrefix(deps.CommandPrefix), client.WithTimeout(deps.CommandTimeout)),
		samples: newSampler(deps.Gatherer, cfg.History),
	}
	if deps.DLQStream != "" {
		c.dlq = consumers.NewDLQ(deps.JetStream, consumers.DLQConfig{Stream: deps.DLQStream})
	}
	c.handler = g.wrap(c.routes(), c.fail)
	return c, nil
}

// Handler serves the console under /ui/.
func (c *Console) Handler() http.Handler { return c.handler }

// Start opens the projections' meta bucket (as `jetflow projections`
// does) and starts sampling the metrics.
func (c *Console) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != notStarted {
		return nil
	}
	admin, err := projections.NewAdmin(ctx, c.deps.Conn, c.deps.ProjectionsConfig, projections.WithLogger(c.log))
	if err != nil {
		return fmt.Errorf("console: projections: %w", err)
	}
	// Rebuilds and the sampler live as long as the console, not as the
	// request or the start that began them.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.admin, c.cancel = admin, cancel
	c.jobs = newRebuilds(life, admin, c.log)
	c.samples.sample(time.Now())
	c.workers.Go(func() { c.samples.run(life, c.cfg.SampleEvery) })
	c.state = running
	c.log.Info("console started", "path", basePath, "token", c.guard.hasToken())
	return nil
}

// Stop interrupts the rebuilds started from the console (each continues
// where it stopped when started again, from the console or the CLI) and
// the sampler, waiting for them until ctx ends.
func (c *Console) Stop(ctx context.Context) error {
	defer c.ending.Stopped()
	c.mu.Lock()
	if c.state != running {
		c.state = stopped
		c.mu.Unlock()
		return nil
	}
	c.state = stopped
	c.cancel()
	jobs := c.jobs
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.workers.Wait()
		jobs.wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("console: rebuilds still stopping: %w", ctx.Err())
	}
}

// Done is closed once the console has stopped; it never ends on its own.
func (c *Console) Done() <-chan struct{} { return c.ending.Done() }

// Err is always nil: the console does not fail on its own.
func (c *Console) Err() error { return c.ending.Err() }

// live returns what a request needs while the console runs.
func (c *Console) live() (*projections.Admin, *rebuilds, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != running {
		return nil, nil, ErrNotRunning
	}
	return c.admin, c.jobs, nil
}

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+basePath+"static/{file}", c.static)
	mux.HandleFunc("GET "+basePath+"login", c.loginPage)
	mux.HandleFunc("POST "+basePath+"login", c.login)
	mux.HandleFunc("POST "+basePath+"logout", c.logout)
	mux.HandleFunc("GET "+basePath+"{$}", c.needsRunning(c.overview))
	mux.HandleFunc("GET "+basePath+"aggregates", c.needsRunning(c.aggregatesPage))
	mux.HandleFunc("GET "+basePath+"projections", c.needsRunning(c.projectionsPage))
	mux.HandleFunc("GET "+basePath+"projections/confirm", c.needsRunning(c.projectionConfirm))
	mux.HandleFunc("POST "+basePath+"projections/rebuild", c.needsRunning(c.projectionRebuild))
	mux.HandleFunc("POST "+basePath+"projections/skip", c.needsRunning(c.projectionSkip))
	mux.HandleFunc("POST "+basePath+"projections/resume", c.needsRunning(c.projectionResume))
	mux.HandleFunc("GET "+basePath+"projections/rebuild", c.needsRunning(c.rebuildPage))
	mux.HandleFunc("GET "+basePath+"projections/rebuild.json", c.needsRunning(c.rebuildJSON))
	mux.HandleFunc("GET "+basePath+"dlq", c.needsRunning(c.dlqPage))
	mux.HandleFunc("GET "+basePath+"dlq/show", c.needsRunning(c.deadLetterPage))
	mux.HandleFunc("POST "+basePath+"dlq/replay", c.needsRunning(c.dlqReplay))
	mux.HandleFunc("GET "+basePath+"dlq/discard", c.needsRunning(c.dlqDiscardConfirm))
	mux.HandleFunc("POST "+basePath+"dlq/discard", c.needsRunning(c.dlqDiscard))
	mux.HandleFunc("GET "+basePath+"processes", c.needsRunning(c.processesPage))
	mux.HandleFunc("GET "+basePath+"commands", c.needsRunning(c.commandsPage))
	mux.HandleFunc("POST "+basePath+"commands", c.needsRunning(c.sendCommand))
	mux.HandleFunc(basePath, func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "No such page.")
	})
	return mux
}

func (c *Console) needsRunning(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := c.live(); err != nil {
			c.fail(w, r, http.StatusServiceUnavailable, "The console is starting or stopping; try again in a moment.")
			return
		}
		h(w, r)
	}
}

// requestBound bounds the work one page does with NATS.
const requestBound = 10 * time.Second

func bounded(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), requestBound)
}

// audit logs a state-changing action with who asked for it.
func (c *Console) audit(r *http.Request, action string, attrs ...any) {
	base := []any{"action", action, "remote", r.RemoteAddr, "auth", string(authOf(r.Context()).method)}
	c.log.Info("console action", append(base, attrs...)...)
}
