package app

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/metrics"
)

func (d *Domain) aggregates() []Aggregate {
	if d == nil {
		return nil
	}
	return d.Aggregates
}

func (d *Domain) workers() []Worker {
	if d == nil {
		return nil
	}
	return d.Workers
}

// startCommands serves the commands of every registered aggregate on one
// command service; with none registered there is no service to run.
func startCommands(p *platform.Platform, cfg config.Config, d *Domain, log *slog.Logger, metrics *metrics.Prometheus) (stop func(context.Context) error, err error) {
	nothing := func(context.Context) error { return nil }
	if len(d.aggregates()) == 0 {
		log.Warn("no aggregate registered: serving no commands")
		return nothing, nil
	}
	svc, err := aggregates.NewService(p.Conn, aggregates.ServiceConfig{
		Name: cfg.Commands.Service, SubjectPrefix: cfg.Commands.SubjectPrefix, MaxPayload: cfg.Commands.MaxPayload,
		Timeout: cfg.Commands.Timeout,
	}, aggregates.WithLogger(log), aggregates.WithMetrics(metrics))
	if err != nil {
		return nil, err
	}
	opts := []aggregates.RepositoryOption{
		aggregates.WithSnapshotEvery(cfg.Snapshots.Every), aggregates.WithCacheSize(cfg.Commands.CacheSize),
		aggregates.WithConflictRetries(cfg.Commands.ConflictRetries), aggregates.WithLogger(log), aggregates.WithMetrics(metrics),
	}
	for _, a := range d.Aggregates {
		if err := a.Register(svc, p.Store, p.Snapshots, slices.Clone(opts)); err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", a.Type, err)
		}
	}
	if err := svc.Start(); err != nil {
		return nil, err
	}
	return svc.Stop, nil
}

// startWorkers provisions the registered topics and runs the registered
// workers, each with panic recovery, logging, metrics and the DLQ; stop
// lets in-flight messages finish within the shutdown grace.
func startWorkers(ctx context.Context, p *platform.Platform, cfg config.Config, d *Domain, log *slog.Logger, metrics *metrics.Prometheus) (stop func(), err error) {
	if d != nil {
		for _, t := range d.Topics {
			if _, err := consumers.EnsureTopic(ctx, p.JS, t); err != nil {
				return nil, fmt.Errorf("topic %s: %w", t.Name, err)
			}
		}
	}
	var workers []*consumers.Worker
	stop = func() {
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() { stopWithin(log, "worker "+w.Subscription().Name, w.Stop) })
		}
		wg.Wait()
	}
	opts := []consumers.WorkerOption{consumers.WithLogger(log), consumers.WithMetrics(metrics)}
	if cfg.DLQ.Enabled {
		opts = append(opts, consumers.WithDLQ(consumers.DLQConfig{Stream: cfg.DLQ.Stream, Retention: cfg.DLQ.Retention, Replicas: cfg.DLQ.Replicas}))
	} else {
		opts = append(opts, consumers.WithoutDLQ())
	}
	for _, reg := range d.workers() {
		sub := reg.Subscription(Runtime{
			Conn: p.Conn, JetStream: p.JS, Streams: streamsConfig(cfg),
			CommandPrefix: cfg.Commands.SubjectPrefix, QueryPrefix: cfg.Queries.SubjectPrefix,
			Logger: log.With(slog.String("worker", reg.Name)),
		})
		if sub.Name == "" {
			sub.Name = reg.Name
		}
		mws := []consumers.Middleware{consumers.Recover(), consumers.Logging(log.With(slog.String("subscription", sub.Name)))}
		sub.Middleware = append(mws, sub.Middleware...)
		w, err := consumers.NewWorker(p.JS, sub, opts...)
		if err == nil {
			err = w.Start(ctx)
		}
		if err != nil {
			stop()
			return nil, fmt.Errorf("worker %s: %w", reg.Name, err)
		}
		workers = append(workers, w)
	}
	return stop, nil
}
