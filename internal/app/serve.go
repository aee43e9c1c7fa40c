package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/observability"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

func newServeCmd(d *Domain) *cobra.Command {
	var s settings
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the platform: embedded NATS (unless --nats-url), event store, commands, projections, queries",
		Long: "Starts an embedded NATS server with JetStream (or connects to --nats-url), provisions the\n" +
			"event store, serves commands and queries over NATS and keeps the read models up to date.\n" +
			"Settings come from jetflow.tsk, JETFLOW_* variables and these flags (flags win).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := s.load(cmd)
			if err != nil {
				return err
			}
			return Serve(cmd.Context(), cfg, d, nil)
		},
	}
	s.register(cmd,
		configFlag{"nats-url", "nats.url", "connect to this NATS server or cluster instead of starting the embedded one (default: embedded)"},
		configFlag{"listen", "server.listen", "client address of the embedded NATS server"},
		configFlag{"store-dir", "server.store_dir", "JetStream store directory of the embedded server"},
		configFlag{"nats-config", "server.nats_config", "nats.conf for the embedded server"},
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
	)
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
		pc.Embedded = natsserver.Config{ConfigFile: cfg.Server.NATSConfig, Listen: cfg.Server.Listen, StoreDir: cfg.Server.StoreDir}
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
}

// ServeOptions are what an embedding program adds to a configuration.
type ServeOptions struct {
	// Logger replaces the one the [log] section describes.
	Logger *slog.Logger
	// OnReady is called once every part has started.
	OnReady func(Started)
}

// Serve runs the platform with d's parts until ctx ends: what `jetflow
// serve` does, for programs that embed it.
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
	}
	registry, metrics := observability.NewRegistry()
	p, err := startPlatform(ctx, cfg, "jetflow-serve", log)
	if err != nil {
		return err
	}
	defer p.Close()

	// Dead letters of every consumer (workers, projections) land here.
	if cfg.DLQ.Enabled {
		dlq := consumers.DLQConfig{Stream: cfg.DLQ.Stream, Retention: cfg.DLQ.Retention, Replicas: cfg.DLQ.Replicas}
		if _, err := consumers.EnsureDLQ(ctx, p.JS, dlq); err != nil {
			return err
		}
	}

	// Metrics and health first: probes get an answer (not ready, naming
	// what is still starting) however long the start takes.
	var reads atomic.Pointer[readSide]
	stopObs, metricsAddr, err := serveObservability(cfg, registry, log,
		observability.Check{Name: "nats", Check: func(context.Context) error {
			if !p.Conn.IsConnected() {
				return errors.New("not connected to NATS")
			}
			return nil
		}},
		observability.Check{Name: "event_store", Check: func(ctx context.Context) error {
			_, err := p.JS.Stream(ctx, cfg.Events.Stream)
			return err
		}},
		observability.Check{Name: "projections", Check: func(ctx context.Context) error {
			rs := reads.Load()
			if rs == nil {
				return errors.New("read side starting")
			}
			return rs.ready(cfg.Health.MaxProjectionLag)(ctx)
		}},
	)
	if err != nil {
		return err
	}
	defer stopObs()

	stopCommands, err := startCommands(p, cfg, d, log, metrics)
	if err != nil {
		return err
	}
	defer stopWithin(log, "command service", stopCommands)

	// Read side: projections, the users read model, queries.
	rs, err := startReadSide(ctx, p.Conn, cfg, d, log, metrics)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	defer stopWithin(log, "read side", rs.stop)
	reads.Store(rs)

	stopWorkers, err := startWorkers(ctx, p, cfg, d, log, metrics)
	if err != nil {
		return err
	}
	defer stopWorkers()

	log.Info("jetflow serving", "commands", cfg.Commands.Service, "queries", cfg.Queries.Service, "nats", natsDescription(cfg, p),
		"aggregates", len(d.aggregates()), "read_models", len(readModels(cfg, d)), "workers", len(d.workers()))
	if opts.OnReady != nil {
		opts.OnReady(Started{NATSURL: natsURL(cfg, p), MetricsAddr: metricsAddr})
	}
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// serveObservability serves /metrics, /healthz and /readyz on the metrics
// address and, when it differs, on the health address too.
func serveObservability(cfg config.Config, registry prometheus.Gatherer, log *slog.Logger, checks ...observability.Check) (stop func(), first string, err error) {
	var servers []*observability.Server
	stop = func() {
		for _, srv := range slices.Backward(servers) {
			stopWithin(log, "metrics server", srv.Stop)
		}
	}
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
			stop()
			return nil, "", err
		}
		for _, c := range checks {
			srv.AddCheck(c)
		}
		srv.Start()
		if first == "" {
			first = srv.Addr()
		}
		servers = append(servers, srv)
		log.Info("metrics and health", "url", "http://"+srv.Addr()+"/metrics")
	}
	return stop, first, nil
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

// stopWithin stops a component, bounded so a stuck one cannot hold the
// process; deferred calls run in reverse start order.
func stopWithin(log *slog.Logger, what string, stop func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("stop "+what, "error", err)
	}
}
