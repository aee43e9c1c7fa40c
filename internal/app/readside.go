package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/metrics"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/rpc"
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
// views and the query service, members of serve's group in that order.
type readSide struct {
	runner  *projections.Runner
	views   []namedView
	queries *projections.QueryService
	log     *slog.Logger
	// started is set once the views have had their load wait: until then
	// the read side reports itself starting.
	started atomic.Bool
}

type namedView struct {
	name string
	View
}

// viewLoadWait bounds how long serve waits for the read models to load
// before it starts answering (503 until loaded) anyway.
const viewLoadWait = 30 * time.Second

// newReadSide builds the runner of every registered projection, the views
// of the read models that answer queries, and the query service over them.
func newReadSide(nc *nats.Conn, cfg config.Config, d *Domain, log *slog.Logger, m *metrics.Prometheus) (*readSide, error) {
	pcfg := projectionsConfig(cfg)
	obs := []projections.Option{projections.WithLogger(log), projections.WithMetrics(m)}
	rs := &readSide{log: log}
	ps := readModels(cfg, d)
	if len(ps) == 0 {
		return rs, nil
	}
	var err error
	if rs.runner, err = projections.NewRunner(nc, pcfg, ps, obs...); err != nil {
		return nil, err
	}
	for i, r := range d.ReadModels {
		if r.NewView == nil {
			continue
		}
		v, err := r.NewView(nc, pcfg, ps[i], obs...)
		if err != nil {
			return nil, fmt.Errorf("read model %s: %w", r.Name, err)
		}
		rs.views = append(rs.views, namedView{r.Name, v})
	}
	if len(rs.views) == 0 {
		return rs, nil
	}
	qopts := obs
	if d.AuthorizeQuery != nil {
		qopts = append(slices.Clip(obs), projections.WithQueryAuthorizer(d.AuthorizeQuery))
	}
	queryIdentity, _ := rpc.ParseIdentityMode(cfg.Queries.Identity) // Validate checked it
	if rs.queries, err = projections.NewQueryService(nc, projections.QueryConfig{
		Name: cfg.Queries.Service, SubjectPrefix: cfg.Queries.SubjectPrefix, Timeout: cfg.Queries.Timeout, Identity: queryIdentity,
	}, qopts...); err != nil {
		return nil, err
	}
	for _, v := range rs.views {
		if err := v.RegisterQueries(rs.queries); err != nil {
			return nil, fmt.Errorf("read model %s: %w", v.name, err)
		}
	}
	return rs, nil
}

// members are the read side's parts in start order. The views load in the
// background; a member after them waits (at most viewLoadWait) until they
// have, so that queries answer once serve says it is ready.
func (rs *readSide) members() []member {
	var ms []member
	if rs.runner != nil {
		ms = append(ms, member{"projections", rs.runner})
	}
	for _, v := range rs.views {
		ms = append(ms, member{"read model " + v.name, v})
	}
	ms = append(ms, member{"read models loaded", &loadWait{rs: rs}})
	if rs.queries != nil {
		ms = append(ms, member{"query service", rs.queries})
	}
	return ms
}

// loadWait is the member that waits for the views to load. It holds
// nothing: its Start is the wait, and it never ends on its own.
type loadWait struct {
	rs     *readSide
	ending lifecycle.Ending
}

func (l *loadWait) Start(ctx context.Context) error {
	defer l.rs.started.Store(true)
	wctx, cancel := context.WithTimeout(ctx, viewLoadWait)
	defer cancel()
	for _, v := range l.rs.views {
		err := v.WaitLoaded(wctx)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			l.rs.log.Warn("read model not loaded yet; its queries answer 503 until it is", "read_model", v.name, "error", err)
		default:
			return fmt.Errorf("read model %s: %w", v.name, err)
		}
	}
	return nil
}

func (l *loadWait) Stop(context.Context) error { l.ending.Stopped(); return nil }

// Done is closed by Stop only: waiting ends nothing.
func (l *loadWait) Done() <-chan struct{} { return l.ending.Done() }
func (l *loadWait) Err() error            { return nil }

// ready fails while the read side starts, while a read model is not
// loaded, or while a projection is failed or further behind than maxLag
// (0: lag is not checked).
func (rs *readSide) ready(maxLag int) func(context.Context) error {
	return func(context.Context) error {
		if !rs.started.Load() {
			return errors.New("read side starting")
		}
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
