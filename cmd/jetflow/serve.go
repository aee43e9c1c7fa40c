package main

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
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/observability"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/streams"
)

func newServeCmd() *cobra.Command {
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
			return runServe(cmd.Context(), cfg)
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
		ConnectOptions: append(natsOptions(cfg.NATS), nats.CustomInboxPrefix(serviceInboxPrefix)),
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

func runServe(ctx context.Context, cfg config.Config) error {
	log, err := newLogger(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	metrics := observability.NewMetrics()
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
	stopObs, err := serveObservability(cfg, metrics, log,
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

	// Commands.
	repo, err := users.NewRepository(p.Store, p.Snapshots,
		aggregates.WithSnapshotEvery(cfg.Snapshots.Every), aggregates.WithCacheSize(cfg.Commands.CacheSize),
		aggregates.WithConflictRetries(cfg.Commands.ConflictRetries), aggregates.WithLogger(log), aggregates.WithMetrics(metrics))
	if err != nil {
		return err
	}
	commands, err := aggregates.NewService(p.Conn, aggregates.ServiceConfig{
		Name: cfg.Commands.Service, SubjectPrefix: cfg.Commands.SubjectPrefix, MaxPayload: cfg.Commands.MaxPayload,
		Timeout: cfg.Commands.Timeout, Logger: log, Metrics: metrics,
	})
	if err != nil {
		return err
	}
	if err := users.RegisterCommands(commands, repo); err != nil {
		return err
	}
	if err := commands.Start(); err != nil {
		return err
	}
	defer stopWithin(log, "command service", commands.Stop)

	// Read side: projections, the users read model, queries.
	rs, err := startReadSide(ctx, p.Conn, cfg, log, metrics)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	defer stopWithin(log, "read side", rs.stop)
	reads.Store(rs)

	log.Info("jetflow serving", "commands", cfg.Commands.Service, "queries", cfg.Queries.Service, "nats", natsDescription(cfg, p))
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// serveObservability serves /metrics, /healthz and /readyz on the metrics
// address and, when it differs, on the health address too.
func serveObservability(cfg config.Config, metrics *observability.Metrics, log *slog.Logger, checks ...observability.Check) (stop func(), err error) {
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
		srv, err := observability.NewServer(addr, metrics, log)
		if err != nil {
			stop()
			return nil, err
		}
		for _, c := range checks {
			srv.AddCheck(c)
		}
		srv.Start()
		servers = append(servers, srv)
		log.Info("metrics and health", "url", "http://"+srv.Addr()+"/metrics")
	}
	return stop, nil
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
