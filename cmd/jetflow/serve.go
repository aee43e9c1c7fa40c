package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/streams"
)

type serveFlags struct {
	natsURL    string
	listen     string
	storeDir   string
	natsConfig string
	logLevel   string
	logFormat  string
	replicas   int
	snapEvery  int
	cacheSize  int
	retries    int
	cmdTimeout time.Duration
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the platform: embedded NATS (unless --nats-url), event store, command service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.natsURL, "nats-url", "", "connect to this NATS server or cluster instead of starting one")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:4222", "client address of the embedded NATS server")
	fl.StringVar(&f.storeDir, "store-dir", "./data", "JetStream store directory of the embedded server")
	fl.StringVar(&f.natsConfig, "nats-config", "", "nats.conf for the embedded server")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fl.IntVar(&f.replicas, "replicas", 1, "replicas of the event stream and buckets (3 in a cluster)")
	fl.IntVar(&f.snapEvery, "snapshot-every", aggregates.DefaultSnapshotEvery, "snapshot aggregates every N events (0: never)")
	fl.IntVar(&f.cacheSize, "cache-size", aggregates.DefaultCacheSize, "aggregates kept in memory (0: no cache)")
	fl.IntVar(&f.retries, "conflict-retries", aggregates.DefaultConflictRetries, "retries of a command after a concurrency conflict")
	fl.DurationVar(&f.cmdTimeout, "command-timeout", aggregates.DefaultTimeout, "bound of one command")
	return cmd
}

func runServe(ctx context.Context, f serveFlags) error {
	log, err := newLogger(os.Stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	scfg := streams.DefaultConfig()
	scfg.Replicas = f.replicas
	p, err := platform.Start(ctx, platform.Config{
		NATSURL:  f.natsURL,
		Embedded: natsserver.Config{ConfigFile: f.natsConfig, Listen: f.listen, StoreDir: f.storeDir},
		Streams:  scfg,
		Name:     "jetflow-serve",
		Logger:   log,
	})
	if err != nil {
		return err
	}
	defer p.Close()

	repo, err := users.NewRepository(p.Store, p.Snapshots,
		aggregates.WithSnapshotEvery(f.snapEvery), aggregates.WithCacheSize(f.cacheSize),
		aggregates.WithConflictRetries(f.retries), aggregates.WithLogger(log))
	if err != nil {
		return err
	}
	commands, err := aggregates.NewService(p.Conn, aggregates.ServiceConfig{Timeout: f.cmdTimeout, Logger: log})
	if err != nil {
		return err
	}
	if err := users.RegisterCommands(commands, repo); err != nil {
		return err
	}
	if err := commands.Start(); err != nil {
		return err
	}
	log.Info("jetflow serving", "commands", aggregates.DefaultServiceName)

	<-ctx.Done()
	log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := commands.Stop(stopCtx); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("command service stop", "error", err)
	}
	return nil
}
