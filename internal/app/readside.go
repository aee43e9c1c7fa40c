package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/metrics"
	"github.com/jetflow/jetflow/projections"
)

// projectionsConfig is the projections' layout and tuning from the
// configuration; serve and `jetflow projections` must agree on it.
func projectionsConfig(cfg config.Config) projections.Config {
	return projections.Config{Streams: streamsConfig(cfg), MaxWait: cfg.Queries.MinSequenceWait}
}

// readModels are the projections the domain registered, with their
// [projections.<name>] overrides applied.
func readModels(cfg config.Config, d *Domain) []projections.Projection {
	if d == nil {
		return nil
	}
	ps := make([]projections.Projection, 0, len(d.ReadModels))
	for _, r := range d.ReadModels {
		ps = append(ps, withOverrides(cfg, r.Projection(streamsConfig(cfg))))
	}
	return ps
}

// withOverrides applies p's [projections.<name>] section.
func withOverrides(cfg config.Config, p projections.Projection) projections.Projection {
	pc := cfg.Projection(p.Name)
	p.Bucket = pc.Bucket
	if len(pc.Subjects) > 0 {
		p.Subjects = pc.Subjects
	}
	p.MaxInflight, p.Retries, p.Backoff = pc.MaxInFlight, pc.MaxRetries, pc.Backoff
	return p
}

// readModel returns the projection called name.
func readModel(cfg config.Config, d *Domain, name string) (projections.Projection, error) {
	known := []string{}
	for _, p := range readModels(cfg, d) {
		if p.Name == name {
			return p, nil
		}
		known = append(known, p.Name)
	}
	return projections.Projection{}, fmt.Errorf("%w %q; known: %v", projections.ErrUnknownProjection, name, known)
}

// readSide is serve's read side: the projection runner, the read models'
// views and the query service, started in that order.
type readSide struct {
	runner  *projections.Runner
	views   []namedView
	queries *projections.QueryService
}

type namedView struct {
	name string
	View
}

// viewLoadWait bounds how long serve waits for the read model to load
// before it starts answering (503 until loaded) anyway.
const viewLoadWait = 30 * time.Second

func startReadSide(ctx context.Context, nc *nats.Conn, cfg config.Config, d *Domain, log *slog.Logger, metrics *metrics.Prometheus) (*readSide, error) {
	pcfg := projectionsConfig(cfg)
	obs := []projections.Option{projections.WithLogger(log), projections.WithMetrics(metrics)}
	rs := &readSide{}
	ps := readModels(cfg, d)
	if len(ps) == 0 {
		return rs, nil
	}
	var err error
	if rs.runner, err = projections.NewRunner(nc, pcfg, ps, obs...); err != nil {
		return nil, err
	}
	if err := rs.runner.Start(ctx); err != nil {
		return nil, err
	}
	for i, r := range d.ReadModels {
		if r.NewView == nil {
			continue
		}
		v, err := r.NewView(nc, pcfg, ps[i], obs...)
		if err != nil {
			rs.stop(ctx)
			return nil, fmt.Errorf("read model %s: %w", r.Name, err)
		}
		rs.views = append(rs.views, namedView{r.Name, v})
		lctx, cancel := context.WithTimeout(ctx, viewLoadWait)
		err = v.Start(lctx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			log.Warn("read model not loaded yet; its queries answer 503 until it is", "read_model", r.Name, "error", err)
		} else if err != nil {
			rs.stop(ctx)
			return nil, err
		}
	}
	if len(rs.views) == 0 {
		return rs, nil
	}
	if rs.queries, err = projections.NewQueryService(nc, projections.QueryConfig{
		Name: cfg.Queries.Service, SubjectPrefix: cfg.Queries.SubjectPrefix, Timeout: cfg.Queries.Timeout,
	}, obs...); err != nil {
		rs.stop(ctx)
		return nil, err
	}
	for _, v := range rs.views {
		if err := v.RegisterQueries(rs.queries); err != nil {
			rs.stop(ctx)
			return nil, fmt.Errorf("read model %s: %w", v.name, err)
		}
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
	for _, v := range slices.Backward(rs.views) {
		v.Stop()
	}
	if rs.runner != nil {
		errs = append(errs, rs.runner.Stop(ctx))
	}
	return errors.Join(errs...)
}

// ready fails while a read model is not loaded, or a projection
// is failed or further behind than maxLag (0: lag is not checked).
func (rs *readSide) ready(maxLag int) func(context.Context) error {
	return func(context.Context) error {
		var errs []error
		for _, v := range rs.views {
			if !v.Ready() {
				errs = append(errs, fmt.Errorf("read model %s not loaded yet (queries answer 503)", v.name))
			}
		}
		if rs.runner == nil {
			return errors.Join(errs...)
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
