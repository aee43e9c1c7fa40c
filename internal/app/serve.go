package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/observability"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/metrics"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

func newServeCmd(l *loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the platform: embedded NATS (unless --nats-url), event store, commands, projections, queries",
		Long: "Starts an embedded NATS server with JetStream (or connects to --nats-url), provisions the\n" +
			"event store, serves commands and queries over NATS and keeps the read models up to date.\n" +
			"Settings come from jetflow.tsk, JETFLOW_* variables and these flags (flags win).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := l.load(cmd)
			if err != nil {
				return err
			}
			return Serve(cmd.Context(), cfg, l.domain, nil)
		},
	}
	keyFlags(cmd.Flags(),
		configFlag{"nats-url", "nats.url", "connect to this NATS server or cluster instead of starting the embedded one (default: embedded)"},
		configFlag{"listen", "server.listen", "client address of the embedded NATS server"},
		configFlag{"store-dir", "server.store_dir", "JetStream store directory of the embedded server"},
		configFlag{"nats-config", "server.nats_config", "nats.conf for the embedded server"},
		configFlag{"sync-interval", "server.sync_interval", `fsync of the embedded server: "always" (before every acknowledgement), a duration, or empty for the server's default (2m)`},
		configFlag{"insecure-allow-anonymous", "server.insecure_allow_anonymous", "let an embedded server without users listen beyond loopback: anyone who reaches it may rewrite or delete the event store"},
		configFlag{"nats-user", "nats.user", "NATS user"},
		configFlag{"nats-password", "nats.password", "NATS password"},
		configFlag{"creds", "nats.credentials", "NATS credentials file"},
		configFlag{"replicas", "events.replicas", "replicas of the event stream and buckets (3 in a cluster)"},
		configFlag{"snapshot-every", "snapshots.every", "snapshot aggregates every N events (0: never)"},
		configFlag{"cache-size", "commands.cache_size", "aggregates kept in memory (0: no cache)"},
		configFlag{"conflict-retries", "commands.conflict_retries", "retries of a command after a concurrency conflict"},
		configFlag{"command-timeout", "commands.timeout", "bound of one command"},
		configFlag{"metrics-listen", "metrics.listen", "address of /metrics, /healthz and /readyz (empty: off)"},
		configFlag{"log-level", "log.level", "debug, info, warn or error"},
		configFlag{"log-format", "log.format", "text or json"},
		configFlag{"console", "console.enabled", "serve the web console at /ui/ (on the metrics address unless console.listen; a token is required beyond loopback)"},
	)
	hideDefault(cmd.Flags(), "nats-url")
	// --insecure-allow-anonymous alone turns it on, as a boolean flag would.
	cmd.Flags().Lookup("insecure-allow-anonymous").NoOptDefVal = "true"
	// --console alone turns it on, as a boolean flag would.
	cmd.Flags().Lookup("console").NoOptDefVal = "true"
	return cmd
}

// streamsConfig is the event store layout the configuration names.
func streamsConfig(cfg config.Config) streams.Config {
	return streams.Config{
		EventStream: cfg.Events.Stream, SubjectPrefix: cfg.Events.SubjectPrefix,
		SnapshotBucket: cfg.Snapshots.Bucket, Replicas: cfg.Events.Replicas,
		MaxEventsPerAppend: cfg.Events.MaxEventsPerAppend, DuplicateWindow: cfg.Events.DuplicateWindow,
		MaxConcurrentBatches: cfg.Events.MaxConcurrentBatches,
	}
}

// startPlatform starts the embedded server (or connects) and provisions.
func startPlatform(ctx context.Context, cfg config.Config, name string, log *slog.Logger) (*platform.Platform, error) {
	pc := platform.Config{
		// The services' private inbox (inbox.go, deploy/nats/accounts.conf).
		ConnectOptions: append(natsOptions(cfg.NATS), nats.CustomInboxPrefix(wire.ServiceInboxPrefix)),
		Streams:        streamsConfig(cfg),
		Name:           name,
		Logger:         log,
	}
	if cfg.Server.Embedded {
		pc.Embedded = embeddedServer(cfg)
		// Validate checked it.
		pc.Embedded.Sync, _ = natsserver.ParseSync(cfg.Server.SyncInterval)
	} else {
		pc.NATSURL = cfg.NATS.URL
	}
	return platform.Start(ctx, pc)
}

// Started says where a serve that has started can be reached.
type Started struct {
	// NATSURL is the embedded server's client URL, or the configured one.
	NATSURL string
	// MetricsAddr is the address /metrics, /healthz and /readyz answer
	// on ("" when off).
	MetricsAddr string
	// ConsoleURL is the web console's address, http://host:port/ui/ (""
	// when off).
	ConsoleURL string
}

// ServeOptions are what an embedding program adds to a configuration.
type ServeOptions struct {
	// Logger replaces the one the [log] section describes.
	Logger *slog.Logger
	// OnReady is called once every part has started.
	OnReady func(Started)
}

// Serve runs the platform with d's parts until ctx ends or one of them
// ends on its own: what `jetflow serve` does, for programs that embed it.
// Every part is a member of one lifecycle.Group: started in order, and
// when the first of them fails every other is stopped in reverse order;
// the failure is returned (a *lifecycle.MemberError naming the part).
func Serve(ctx context.Context, cfg config.Config, d *Domain, opts *ServeOptions) error {
	if opts == nil {
		opts = &ServeOptions{}
	}
	if err := d.Validate(); err != nil {
		return err
	}
	log := opts.Logger
	if log == nil {
		var err error
		if log, err = newLogger(os.Stderr, cfg.Log.Level, cfg.Log.Format); err != nil {
			return err
		}
	} else {
		// Log lines of a command or a message carry its correlation id
		// whatever logger the program brought, and repeated warnings are
		// rate-limited (logging.go).
		log = slog.New(processHandler(log.Handler()))
	}
	registry, metrics := observability.NewRegistry()
	p, err := startPlatform(ctx, cfg, "jetflow-serve", log)
	if err != nil {
		return err
	}
	logSecurity(log, cfg, p) // serve_security.go
	parts, err := assemble(ctx, p, cfg, d, log, registry, metrics)
	if err != nil {
		p.Close()
		return err
	}
	g := lifecycle.NewGroup(log)
	g.Add("nats", p, 0) // added first: closed last, once everything on it has stopped
	for _, m := range parts.members {
		g.Add(m.name, m.c, 0)
	}
	stopping := context.AfterFunc(ctx, func() { parts.running.Store(false) })
	defer stopping()
	err = g.Run(ctx, func() {
		parts.running.Store(true)
		if ctx.Err() != nil { // shutdown began meanwhile; AfterFunc ran before the Store
			parts.running.Store(false)
		}
		log.Info("jetflow serving", "commands", cfg.Commands.Service, "queries", cfg.Queries.Service, "nats", natsDescription(cfg, p),
			"aggregates", len(d.aggregates()), "read_models", len(readModels(cfg, d)), "workers", len(d.workers()), "processes", len(d.processes()),
			"components", len(d.components()))
		if opts.OnReady != nil {
			opts.OnReady(Started{NATSURL: natsURL(cfg, p), MetricsAddr: parts.metricsAddr, ConsoleURL: parts.consoleURL})
		}
	})
	log.Info("jetflow stopped")
	return err
}

// member is one part of a running platform.
type member struct {
	name string
	c    lifecycle.Component
}

// assembled are serve's parts, built and not yet started, in start order.
type assembled struct {
	members     []member
	metricsAddr string
	// consoleURL is where the web console answers ("" when off).
	consoleURL string
	// running is true from the moment every part has started until
	// shutdown begins: /readyz answers 503 outside that window.
	running *atomic.Bool
}

// assemble builds every part d registers on p. Building does no more than
// provisioning what must exist before anything starts (the DLQ, topics);
// only the HTTP endpoints hold something (their listeners), and they are
// built last, so a failure before them leaves nothing to release.
func assemble(ctx context.Context, p *platform.Platform, cfg config.Config, d *Domain, log *slog.Logger,
	registry prometheus.Gatherer, metrics *metrics.Prometheus) (*assembled, error) {
	// Dead letters of every consumer (workers, projections) land here.
	if cfg.DLQ.Enabled {
		dlq := consumers.DLQConfig{Stream: cfg.DLQ.Stream, Retention: cfg.DLQ.Retention, Replicas: cfg.DLQ.Replicas}
		if _, err := consumers.EnsureDLQ(ctx, p.JS, dlq); err != nil {
			return nil, err
		}
	}
	var work []member
	commands, err := newCommandService(p, cfg, d, log, metrics)
	if err != nil {
		return nil, err
	}
	if commands != nil {
		work = append(work, member{"command service", commands})
	} else {
		log.Warn("no aggregate registered: serving no commands")
	}
	reads, err := newReadSide(p.Conn, cfg, d, log, metrics)
	if err != nil {
		return nil, err
	}
	work = append(work, reads.members()...)
	rt := Runtime{
		Conn: p.Conn, JetStream: p.JS, Streams: streamsConfig(cfg),
		CommandPrefix: cfg.Commands.SubjectPrefix, QueryPrefix: cfg.Queries.SubjectPrefix,
	}
	workers, err := newWorkerSet(ctx, p, cfg, d, log, metrics, rt)
	if err != nil {
		return nil, err
	}
	if workers != nil {
		work = append(work, member{"workers", workers})
	}
	procs, err := newProcesses(p, cfg, d, log, metrics)
	if err != nil {
		return nil, err
	}
	work = append(work, procs...)
	for _, c := range d.components() {
		crt := rt
		crt.Logger = log.With(slog.String("component", c.Name))
		built, err := c.Build(crt)
		if err == nil && built == nil {
			err = errors.New("built no component")
		}
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", c.Name, err)
		}
		work = append(work, member{c.Name, built})
	}

	// Metrics and health start first: probes get an answer (not ready,
	// naming what is still starting) however long the start takes.
	running := new(atomic.Bool)
	checks := []observability.Check{
		{Name: "started", Check: func(context.Context) error {
			if !running.Load() {
				return errors.New("starting or stopping: not every command service, read model, worker and process manager runs")
			}
			return nil
		}},
		{Name: "nats", Check: func(context.Context) error {
			if !p.Conn.IsConnected() {
				return errors.New("not connected to NATS")
			}
			return nil
		}},
		{Name: "event_store", Check: func(ctx context.Context) error {
			_, err := p.JS.Stream(ctx, cfg.Events.Stream)
			return err
		}},
		{Name: "projections", Check: reads.ready(cfg.Health.MaxProjectionLag)},
	}
	endpoints, err := newEndpoints(cfg, registry, log, checks...)
	if err != nil {
		return nil, err
	}
	a := &assembled{running: running}
	for _, srv := range endpoints {
		a.members = append(a.members, member{"metrics and health " + srv.Addr(), srv})
		if a.metricsAddr == "" {
			a.metricsAddr = srv.Addr()
		}
		log.Info("metrics and health", "url", "http://"+srv.Addr()+"/metrics")
	}
	// The web console (serve_console.go), when enabled: beside /metrics or
	// on its own address, started right after them.
	ui, err := newConsole(p, cfg, d, log, registry, commands, checks, endpoints)
	if err != nil {
		for _, srv := range endpoints {
			_ = srv.Stop(context.Background()) // never started: releases the address
		}
		return nil, err
	}
	a.members = append(a.members, ui.members...)
	a.consoleURL = ui.url
	a.members = append(a.members, work...)
	return a, nil
}

// newEndpoints listens for /metrics, /healthz and /readyz on the metrics
// address and, when it differs, on the health address too.
func newEndpoints(cfg config.Config, registry prometheus.Gatherer, log *slog.Logger, checks ...observability.Check) ([]*observability.Server, error) {
	var servers []*observability.Server
	addrs := []string{cfg.Metrics.Listen}
	if h := cfg.HealthListen(); h != cfg.Metrics.Listen {
		addrs = append(addrs, h)
	}
	for _, addr := range addrs {
		if addr == "" {
			continue
		}
		srv, err := observability.NewServer(addr, registry, log)
		if err != nil {
			for _, s := range servers {
				_ = s.Stop(context.Background()) // never started: releases the address
			}
			return nil, err
		}
		for _, c := range checks {
			srv.AddCheck(c)
		}
		servers = append(servers, srv)
	}
	return servers, nil
}

func natsURL(cfg config.Config, p *platform.Platform) string {
	if p.Server != nil {
		return p.Server.ClientURL()
	}
	return cfg.NATS.URL
}

func natsDescription(cfg config.Config, p *platform.Platform) string {
	if p.Server != nil {
		return "embedded " + p.Server.ClientURL()
	}
	return platform.RedactURLs(strings.Split(cfg.NATS.URL, ",")[0])
}
