package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/lifecycle"
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

func (d *Domain) components() []Component {
	if d == nil {
		return nil
	}
	return d.Components
}

// newCommandService builds the command service with the commands of every
// registered aggregate; with none registered there is no service (nil).
func newCommandService(p *platform.Platform, cfg config.Config, d *Domain, log *slog.Logger, m *metrics.Prometheus) (*aggregates.Service, error) {
	if len(d.aggregates()) == 0 {
		return nil, nil
	}
	sopts := []aggregates.ServiceOption{aggregates.WithLogger(log), aggregates.WithMetrics(m)}
	if d.Authorize != nil {
		sopts = append(sopts, aggregates.WithAuthorizer(d.Authorize))
	}
	svc, err := aggregates.NewService(p.Conn, aggregates.ServiceConfig{
		Name: cfg.Commands.Service, SubjectPrefix: cfg.Commands.SubjectPrefix, MaxPayload: cfg.Commands.MaxPayload,
		Timeout: cfg.Commands.Timeout, Identity: identityMode(cfg),
	}, sopts...)
	if err != nil {
		return nil, err
	}
	opts := []aggregates.RepositoryOption{
		aggregates.WithSnapshotEvery(cfg.Snapshots.Every), aggregates.WithCacheSize(cfg.Commands.CacheSize),
		aggregates.WithConflictRetries(cfg.Commands.ConflictRetries), aggregates.WithLogger(log), aggregates.WithMetrics(m),
	}
	for _, a := range d.Aggregates {
		if err := a.Register(svc, p.Store, p.Snapshots, slices.Clone(opts)); err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", a.Type, err)
		}
	}
	return svc, nil
}

// workerSet runs the registered workers as one member of serve's group:
// they start in order, stop together (each lets its in-flight messages
// finish within the stop's bound), and the first to end on its own ends
// the set.
type workerSet struct {
	workers []*consumers.Worker
	started []*consumers.Worker
	quit    chan struct{}
	ending  lifecycle.Ending
}

// newWorkerSet provisions the registered topics and builds a worker per
// registered subscription, each with panic recovery, logging, metrics and
// the DLQ; nil when none is registered.
func newWorkerSet(ctx context.Context, p *platform.Platform, cfg config.Config, d *Domain, log *slog.Logger, m *metrics.Prometheus, rt Runtime) (*workerSet, error) {
	if d != nil {
		for _, t := range d.Topics {
			if _, err := consumers.EnsureTopic(ctx, p.JS, t); err != nil {
				return nil, fmt.Errorf("topic %s: %w", t.Name, err)
			}
		}
	}
	if len(d.workers()) == 0 {
		return nil, nil
	}
	opts := []consumers.WorkerOption{consumers.WithLogger(log), consumers.WithMetrics(m)}
	if cfg.DLQ.Enabled {
		opts = append(opts, consumers.WithDLQ(consumers.DLQConfig{Stream: cfg.DLQ.Stream, Retention: cfg.DLQ.Retention, Replicas: cfg.DLQ.Replicas}))
	} else {
		opts = append(opts, consumers.WithoutDLQ())
	}
	ws := &workerSet{quit: make(chan struct{})}
	for _, reg := range d.workers() {
		wrt := rt
		wrt.Logger = log.With(slog.String("worker", reg.Name))
		sub := reg.Subscription(wrt)
		if sub.Name == "" {
			sub.Name = reg.Name
		}
		mws := []consumers.Middleware{consumers.Recover(), consumers.Logging(log.With(slog.String("subscription", sub.Name)))}
		sub.Middleware = append(mws, sub.Middleware...)
		w, err := consumers.NewWorker(p.JS, sub, opts...)
		if err != nil {
			return nil, fmt.Errorf("worker %s: %w", reg.Name, err)
		}
		ws.workers = append(ws.workers, w)
	}
	return ws, nil
}

func (ws *workerSet) Start(ctx context.Context) error {
	for _, w := range ws.workers {
		if err := w.Start(ctx); err != nil {
			_ = ws.Stop(context.WithoutCancel(ctx))
			return fmt.Errorf("worker %s: %w", w.Subscription().Name, err)
		}
		ws.started = append(ws.started, w)
		go func() {
			select {
			case <-w.Done():
				if err := w.Err(); err != nil {
					ws.ending.Fail(fmt.Errorf("worker %s: %w", w.Subscription().Name, err))
				}
			case <-ws.quit:
			}
		}()
	}
	return nil
}

// Stop stops every started worker at once, each within ctx.
func (ws *workerSet) Stop(ctx context.Context) error {
	defer ws.ending.Stopped()
	select {
	case <-ws.quit:
	default:
		close(ws.quit)
	}
	errs := make([]error, len(ws.started))
	var wg sync.WaitGroup
	for i, w := range ws.started {
		wg.Go(func() {
			if err := w.Stop(ctx); err != nil {
				errs[i] = fmt.Errorf("worker %s: %w", w.Subscription().Name, err)
			}
		})
	}
	wg.Wait()
	ws.started = nil
	return errors.Join(errs...)
}

func (ws *workerSet) Done() <-chan struct{} { return ws.ending.Done() }
func (ws *workerSet) Err() error            { return ws.ending.Err() }
