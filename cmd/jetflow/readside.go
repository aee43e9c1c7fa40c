package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/observability"
	"github.com/jetflow/jetflow/projections"
)

// projectionsConfig is the projections' layout and tuning from the
// configuration; serve and `jetflow projections` must agree on it.
func projectionsConfig(cfg config.Config, log *slog.Logger) projections.Config {
	return projections.Config{Streams: streamsConfig(cfg), Logger: log}
}

// readModels are the projections this binary runs, with their
// [projections.<name>] overrides applied.
func readModels(cfg config.Config) []projections.Projection {
	p := users.Projection(streamsConfig(cfg))
	pc := cfg.Projection(p.Name)
	p.Bucket = pc.Bucket
	if len(pc.Subjects) > 0 {
		p.Subjects = pc.Subjects
	}
	p.MaxInflight, p.Retries, p.Backoff = pc.MaxInFlight, pc.MaxRetries, pc.Backoff
	return []projections.Projection{p}
}

// readModel returns the projection called name.
func readModel(cfg config.Config, name string) (projections.Projection, error) {
	var known []string
	for _, p := range readModels(cfg) {
		if p.Name == name {
			return p, nil
		}
		known = append(known, p.Name)
	}
	return projections.Projection{}, fmt.Errorf("%w %q; known: %v", projections.ErrUnknownProjection, name, known)
}

// readSide is serve's read side: the projection runner, the users view and
// the query service, started in that order.
type readSide struct {
	runner  *projections.Runner
	view    *users.View
	queries *projections.QueryService
}

// viewLoadWait bounds how long serve waits for the read model to load
// before it starts answering (503 until loaded) anyway.
const viewLoadWait = 30 * time.Second

func startReadSide(ctx context.Context, nc *nats.Conn, cfg config.Config, log *slog.Logger, metrics *observability.Metrics) (*readSide, error) {
	pcfg := projectionsConfig(cfg, log)
	pcfg.Metrics = metrics
	rs := &readSide{}
	var err error
	if rs.runner, err = projections.NewRunner(nc, pcfg, readModels(cfg)...); err != nil {
		return nil, err
	}
	if err := rs.runner.Start(ctx); err != nil {
		return nil, err
	}
	if rs.view, err = users.NewView(nc, pcfg, cfg.Queries.MinSequenceWait); err != nil {
		rs.stop(ctx)
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, viewLoadWait)
	err = rs.view.Start(lctx)
	cancel()
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		log.Warn("users read model not loaded yet; queries answer 503 until it is", "error", err)
	} else if err != nil {
		rs.stop(ctx)
		return nil, err
	}
	if rs.queries, err = projections.NewQueryService(nc, projections.QueryConfig{
		Name: cfg.Queries.Service, SubjectPrefix: cfg.Queries.SubjectPrefix, Timeout: cfg.Queries.Timeout, Logger: log,
		Metrics: metrics,
	}); err != nil {
		rs.stop(ctx)
		return nil, err
	}
	if err := users.RegisterQueries(rs.queries, rs.view); err != nil {
		rs.stop(ctx)
		return nil, err
	}
	if err := rs.queries.Start(); err != nil {
		rs.stop(ctx)
		return nil, err
	}
	return rs, nil
}

// stop stops the read side in reverse start order.
func (rs *readSide) stop(ctx context.Context) error {
	var errs []error
	if rs.queries != nil {
		errs = append(errs, rs.queries.Stop(ctx))
	}
	if rs.view != nil {
		rs.view.Stop()
	}
	if rs.runner != nil {
		errs = append(errs, rs.runner.Stop(ctx))
	}
	return errors.Join(errs...)
}

// ready fails while the users read model is not loaded, or a projection
// is failed or further behind than maxLag (0: lag is not checked).
func (rs *readSide) ready(maxLag int) func(context.Context) error {
	return func(context.Context) error {
		var errs []error
		if rs.view != nil && !rs.view.Ready() {
			errs = append(errs, errors.New("read model users not loaded yet (queries answer 503)"))
		}
		for _, s := range rs.runner.Statuses() {
			switch {
			case s.State == projections.StateFailed && s.Failure != nil:
				errs = append(errs, fmt.Errorf("projection %s failed at event %d (%s): %s", s.Projection, s.Failure.Sequence, s.Failure.Type, s.Failure.Error))
			case s.State == projections.StateFailed:
				errs = append(errs, fmt.Errorf("projection %s failed", s.Projection))
			case maxLag > 0 && s.Lag > uint64(maxLag):
				errs = append(errs, fmt.Errorf("projection %s is %d events behind (more than %d)", s.Projection, s.Lag, maxLag))
			}
		}
		return errors.Join(errs...)
	}
}
