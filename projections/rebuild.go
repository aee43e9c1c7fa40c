package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Progress reports a rebuild.
type Progress struct {
	Projection string
	Generation int
	// Phase is "building", "switching", "cleaning up" or "done".
	Phase string
	// Done counts the events applied to the new generation (across
	// interruptions); Total adds those still pending.
	Done, Total uint64
	// Resumed is true when an interrupted rebuild is continued.
	Resumed bool
}

// Rebuild builds the next generation of p into a fresh bucket from stream
// sequence 1 while the active generation keeps serving, switches the meta
// record to it in one compare-and-set (runners and views follow), and
// removes the old generation's bucket and consumer. An interrupted rebuild
// (ctx ended, process killed) continues where it stopped when called again.
// progress, when set, is called a few times a second.
func (a *Admin) Rebuild(ctx context.Context, p Projection, progress func(Progress)) (Meta, error) {
	if err := p.Validate(); err != nil {
		return Meta{}, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	// Reports come from the build's ticker and from here: one at a time.
	var progressMu sync.Mutex
	report := progress
	progress = func(pr Progress) {
		progressMu.Lock()
		defer progressMu.Unlock()
		report(pr)
	}
	if _, err := a.meta.ensure(ctx, p); err != nil {
		return Meta{}, err
	}
	resumed := false
	meta, err := a.meta.update(ctx, p.Name, func(m *Meta) error {
		if m.Rebuild != nil {
			resumed = true
			return nil
		}
		n := m.Active.Number
		for _, g := range m.Retired {
			n = max(n, g.Number)
		}
		g := a.cfg.generation(p, n+1)
		g.StartedAt = time.Now().UTC()
		m.Rebuild = &g
		// A skip is for the generation that failed at the event; one left
		// for this number by an earlier record is not for this build.
		m.dropSkips(func(gen int) bool { return gen != g.Number })
		return nil
	})
	if err != nil {
		return Meta{}, err
	}
	gen := *meta.Rebuild
	log := a.cfg.logger.With("projection", p.Name, "generation", gen.Number)
	log.Info("rebuild", "bucket", gen.Bucket, "resumed", resumed)

	// Wait a lease TTL at most: a crashed rebuild's lease expires by then.
	lctx, cancel := context.WithTimeout(ctx, a.cfg.LeaseTTL+2*time.Second)
	var holder string
	l, err := acquireLease(lctx, a.meta, leaseKey(p.Name, gen.Number), a.owner, a.cfg.LeaseTTL, leaseWait{standby: func(h string) { holder = h }})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return meta, ctx.Err()
		}
		return meta, fmt.Errorf("%w: %s generation %d is held by %s", ErrRebuildRunning, p.Name, gen.Number, holder)
	}
	released := false
	release := func() {
		if !released {
			released = true
			l.release(context.Background())
		}
	}
	defer release()

	if err := a.build(ctx, p, meta, gen, l, resumed, progress); err != nil {
		return meta, err
	}
	progress(Progress{Projection: p.Name, Generation: gen.Number, Phase: "switching", Resumed: resumed})
	meta, err = a.meta.update(ctx, p.Name, func(m *Meta) error {
		if m.Rebuild == nil || m.Rebuild.Number != gen.Number {
			return fmt.Errorf("projections: %s: the rebuild of generation %d was replaced while it ran", p.Name, gen.Number)
		}
		m.Retired = append(m.Retired, m.Active)
		m.Active, m.Rebuild = gen, nil
		m.Subjects = p.Subjects
		// The skips of the generations switched away from go with them.
		m.dropSkips(func(g int) bool { return g == gen.Number })
		m.SwitchedAt = time.Now().UTC()
		return nil
	})
	if err != nil {
		return meta, err
	}
	log.Info("switched to the rebuilt generation", "bucket", gen.Bucket)
	// The live runner takes over the new generation from here.
	release()
	progress(Progress{Projection: p.Name, Generation: gen.Number, Phase: "cleaning up", Resumed: resumed})
	if err := a.meta.removeRetired(ctx, p.Name); err != nil {
		return meta, fmt.Errorf("projections: %s switched to generation %d, but the old generations were not all removed (its runner removes them when it starts on it): %w", p.Name, gen.Number, err)
	}
	progress(Progress{Projection: p.Name, Generation: gen.Number, Phase: "done", Resumed: resumed})
	return a.currentMeta(ctx, p.Name, meta)
}

func (a *Admin) currentMeta(ctx context.Context, name string, fallback Meta) (Meta, error) {
	m, _, err := a.meta.load(ctx, name)
	if err != nil {
		return fallback, nil
	}
	return m, nil
}

// build runs the new generation's pipeline until it has caught up with
// the stream.
func (a *Admin) build(ctx context.Context, p Projection, meta Meta, gen Generation, l *lease, resumed bool, progress func(Progress)) error {
	track := newTracker(Status{Projection: p.Name, Generation: gen.Number, Bucket: gen.Bucket, Consumer: gen.Consumer, State: StateRebuilding, Owner: a.owner})
	if prev, ok, _ := a.meta.loadStatus(ctx, p.Name, gen.Number); ok && resumed {
		track.resume(prev)
	}
	buildCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	hard := make(chan struct{})
	pl, err := newPipeline(a.nc, p, a.cfg.forProjection(p), gen, track, hard)
	if err != nil {
		return err
	}
	pl.setSkips(meta.skipsFor(gen.Number))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop(nil)
	wg.Go(func() { publishStatus(buildCtx, a.meta, track) })
	wg.Go(func() { l.keep(buildCtx, func(err error) { stop(err) }) })
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			s := track.snapshot()
			progress(Progress{Projection: p.Name, Generation: gen.Number, Phase: "building", Done: s.Events, Total: s.Events + s.Lag, Resumed: resumed})
			select {
			case <-buildCtx.Done():
				return
			case <-t.C:
			}
		}
	})
	for attempt := 0; ; attempt++ {
		err := pl.provision(buildCtx)
		if err == nil {
			err = pl.session(buildCtx, true)
		}
		var failed *FailedError
		switch {
		case errors.Is(err, errCaughtUp):
			s := track.snapshot()
			progress(Progress{Projection: p.Name, Generation: gen.Number, Phase: "building", Done: s.Events, Total: s.Events, Resumed: resumed})
			track.setState(StateStopped, nil, "")
			a.meta.putStatus(ctx, track.tick(time.Now()))
			return nil
		case buildCtx.Err() != nil:
			track.setState(StateStopped, nil, "")
			a.meta.putStatus(context.Background(), track.tick(time.Now()))
			if cause := context.Cause(buildCtx); ctx.Err() == nil && cause != nil {
				return fmt.Errorf("projections: rebuild of %s stopped: %w", p.Name, cause)
			}
			return fmt.Errorf("projections: rebuild of %s interrupted (run it again to continue): %w", p.Name, ctx.Err())
		case errors.As(err, &failed):
			track.setState(StateFailed, &failed.Failure, "")
			a.meta.putStatus(ctx, track.tick(time.Now()))
			return fmt.Errorf("projections: rebuild of %s stopped (skip the event or fix the handler, then run it again): %w", p.Name, err)
		}
		delay := a.cfg.backoff(attempt)
		a.cfg.logger.Warn("rebuild pipeline stopped, restarting from its checkpoint", "projection", p.Name, "error", err, "retry_in", delay)
		track.setState(StateRetrying, nil, err.Error())
		sleep(buildCtx, delay)
	}
}
