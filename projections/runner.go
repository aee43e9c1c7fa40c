package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/lifecycle"
)

// Runner keeps projections' read models current. Each projection follows
// its meta record: it runs the active generation (holding its lease), and
// moves to a new one when a rebuild switches. Start it once, Stop it once.
type Runner struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	cfg   Config
	owner string
	units []*unit

	mu      sync.Mutex
	started bool
	meta    *metaStore
	cancel  context.CancelFunc
	hard    chan struct{}
	wg      sync.WaitGroup
	unwatch func()
	ending  lifecycle.Ending
}

// unit is one projection under the runner.
type unit struct {
	p     Projection
	mu    sync.Mutex
	track *tracker  // the current generation's
	ops   chan Meta // meta updates for a failed pipeline waiting for an operator
}

func (u *unit) tracker() *tracker {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.track
}

func (u *unit) setTracker(t *tracker) {
	u.mu.Lock()
	u.track = t
	u.mu.Unlock()
}

// NewRunner returns a runner of ps on nc; nothing runs until Start.
func NewRunner(nc *nats.Conn, cfg Config, ps []Projection, opts ...Option) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.apply(opts).withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	r := &Runner{nc: nc, js: js, cfg: cfg, owner: newOwnerID(), hard: make(chan struct{})}
	seen := map[string]bool{}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("%w: %s registered twice", ErrInvalidProjection, p.Name)
		}
		seen[p.Name] = true
		r.units = append(r.units, &unit{p: p})
	}
	return r, nil
}

// Start provisions the meta bucket and each projection's meta record and
// starts following them. It returns once every projection has started
// (running, on standby behind another process's lease, or retrying after
// an error, which it reports in its status and keeps doing). Every wait
// in it is bounded (each call to NATS by WriteTimeout, the whole by a
// minute when ctx has no deadline) and ends when ctx does, even on a
// connection that is stuck; what it started then is stopped.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("projections: runner already started")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	meta, err := openMeta(ctx, r.js, r.cfg)
	if err != nil {
		return err
	}
	metas := make([]Meta, len(r.units))
	for i, u := range r.units {
		if metas[i], err = meta.ensure(ctx, u.p); err != nil {
			return err
		}
		if !slices.Equal(metas[i].Subjects, u.p.Subjects) {
			// The consumer follows the new subjects from its checkpoint
			// on; events of them before it were never applied.
			r.cfg.logger.Warn("projection subjects changed since its generation was built; rebuild it to apply their earlier events",
				"projection", u.p.Name, "built_with", metas[i].Subjects, "now", u.p.Subjects)
		}
	}
	r.meta = meta
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.started = true
	// A projection that fails waits for an operator and the runner goes
	// on; a closed connection ends everything the runner does.
	r.unwatch = lifecycle.WatchConn(r.nc, func(err error) { r.ending.Fail(fmt.Errorf("projections: runner: %w", err)) })
	ready := make(chan struct{}, len(r.units))
	for i, u := range r.units {
		u.setTracker(r.newTracker(u.p, metas[i].Active, StateStarting))
		r.wg.Go(func() { r.supervise(runCtx, u, ready) })
	}
	for range r.units {
		select {
		case <-ready:
		case <-ctx.Done():
			// Nothing keeps running behind a failed start. A call blocked
			// on a stuck connection is not waited for beyond windDown: it
			// ends once the connection gives it back (a later Stop waits
			// for it).
			cancel()
			r.unwatch()
			r.mu.Unlock()
			err := r.waitStopped(windDown)
			r.mu.Lock()
			return errors.Join(fmt.Errorf("projections: start: %w", ctx.Err()), err)
		}
	}
	return nil
}

// waitStopped waits up to d for every goroutine of the runner to end,
// then abandons in-flight work and waits up to d more.
func (r *Runner) waitStopped(d time.Duration) error {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	}
	r.abandon()
	t.Reset(d)
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("projections: calls to NATS still blocked after %s (the connection is stuck); they end when it gives them back", 2*d)
	}
}

// Stop stops every projection: no new events are taken, writes in flight
// are confirmed and their events acked, leases released. When ctx ends
// first, in-flight work is abandoned (it is redelivered on the next
// start), and calls blocked on a stuck connection are not waited for
// more than a moment.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	cancel, unwatch := r.cancel, r.unwatch
	r.mu.Unlock()
	defer r.ending.Stopped()
	if cancel == nil {
		return nil
	}
	unwatch()
	cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		err := r.waitStopped(windDown)
		return errors.Join(fmt.Errorf("projections: stop: in-flight writes abandoned: %w", ctx.Err()), err)
	}
}

// Done is closed once the runner has ended: stopped, or failed because
// its connection closed. A projection that fails does not end the runner:
// it waits for an operator (Status, Admin.Skip, Admin.Resume).
func (r *Runner) Done() <-chan struct{} { return r.ending.Done() }

// Err says why the runner ended on its own; nil after Stop.
func (r *Runner) Err() error { return r.ending.Err() }

func (r *Runner) abandon() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.hard:
	default:
		close(r.hard)
	}
}

// Status returns the live status of one projection.
func (r *Runner) Status(name string) (Status, error) {
	for _, u := range r.units {
		if u.p.Name == name {
			return u.tracker().snapshot(), nil
		}
	}
	return Status{}, fmt.Errorf("%w %q", ErrUnknownProjection, name)
}

// Statuses returns the live status of every projection, by name.
func (r *Runner) Statuses() []Status {
	out := make([]Status, 0, len(r.units))
	for _, u := range r.units {
		out = append(out, u.tracker().snapshot())
	}
	slices.SortFunc(out, func(a, b Status) int { return cmpString(a.Projection, b.Projection) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (r *Runner) newTracker(p Projection, g Generation, st State) *tracker {
	return newTracker(Status{Projection: p.Name, Generation: g.Number, Bucket: g.Bucket, Consumer: g.Consumer, State: st, Owner: r.owner})
}

// supervise follows one projection's meta record until ctx ends.
func (r *Runner) supervise(ctx context.Context, u *unit, ready chan<- struct{}) {
	signalled := false
	signal := func() {
		if !signalled {
			signalled = true
			ready <- struct{}{}
		}
	}
	defer signal()
	log := r.cfg.logger.With("projection", u.p.Name)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		meta, metas, ok := r.follow(ctx, u, signal)
		if ok {
			for ctx.Err() == nil {
				g := &genRun{r: r, u: u, meta: meta, metas: metas, signal: signal}
				next, ok := g.run(ctx)
				if !ok {
					return
				}
				meta = next
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		delay := r.cfg.backoff(min(attempt, 6))
		log.Warn("projection meta record not followed, trying again", "retry_in", delay)
		sleep(ctx, delay)
	}
}

// follow watches the projection's meta record and returns its current
// version. Waiting longer than WriteTimeout for it counts as retrying
// (Start does not wait behind it); false when the watch failed or ctx
// ended.
func (r *Runner) follow(ctx context.Context, u *unit, signal func()) (Meta, <-chan Meta, bool) {
	retrying := func(err error) {
		u.tracker().setState(StateRetrying, nil, err.Error())
		r.cfg.metrics.StateChanged(u.p.Name, StateRetrying)
		signal()
	}
	metas, err := r.meta.watch(ctx, u.p.Name)
	if err != nil {
		if ctx.Err() == nil {
			retrying(err)
		}
		return Meta{}, nil, false
	}
	slow := time.NewTimer(r.cfg.WriteTimeout)
	defer slow.Stop()
	for {
		select {
		case meta, ok := <-metas:
			if !ok {
				if ctx.Err() == nil {
					retrying(fmt.Errorf("projections: watch of the meta record of %s ended", u.p.Name))
				}
				return Meta{}, nil, false
			}
			return meta, metas, true
		case <-slow.C:
			retrying(fmt.Errorf("projections: meta record of %s not read within %s", u.p.Name, r.cfg.WriteTimeout))
		case <-ctx.Done():
			return Meta{}, nil, false
		}
	}
}

// genRun runs one generation of a projection for as long as it is active.
type genRun struct {
	r      *Runner
	u      *unit
	meta   Meta
	metas  <-chan Meta
	signal func()
}

// run holds the generation's lease and runs sessions until the active
// generation changes (returning the new meta) or ctx ends (false).
func (g *genRun) run(ctx context.Context) (Meta, bool) {
	r, p, gen := g.r, g.u.p, g.meta.Active
	log := r.cfg.logger.With("projection", p.Name, "generation", gen.Number)
	track := r.newTracker(p, gen, StateStarting)
	if prev, ok, _ := r.meta.loadStatus(ctx, p.Name, gen.Number); ok {
		track.resume(prev)
	}
	g.u.setTracker(track)
	r.cfg.metrics.StateChanged(p.Name, StateStarting)

	// Everything below stops when the generation stops being active.
	genCtx, stopGen := context.WithCancelCause(ctx)
	defer stopGen(nil)
	switched := make(chan Meta, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	pl, err := newPipeline(r.nc, p, r.cfg.forProjection(p), gen, track, r.hard)
	if err != nil {
		log.Error("projection not started", "error", err)
		return Meta{}, false
	}
	wg.Go(func() { g.followMeta(genCtx, stopGen, switched, pl) })

	l, err := acquireLease(genCtx, r.meta, leaseKey(p.Name, gen.Number), r.owner, r.cfg.LeaseTTL, leaseWait{
		standby: func(holder string) {
			log.Info("projection on standby: another process runs it", "holder", holder)
			track.setState(StateStandby, nil, "")
			r.cfg.metrics.StateChanged(p.Name, StateStandby)
			g.signal()
		},
		// Start does not wait behind a lease that cannot be had.
		retrying: func(err error) {
			track.setState(StateRetrying, nil, err.Error())
			r.cfg.metrics.StateChanged(p.Name, StateRetrying)
			g.signal()
		},
	})
	if err != nil {
		return g.after(ctx, switched)
	}
	defer l.release(context.Background())
	// A standby may get the lease of a generation a rebuild switched away
	// from before it sees the switch: running it would bring back the
	// bucket and consumer the rebuild removed.
	if current, _, err := r.meta.load(genCtx, p.Name); err == nil && current.Active.Number != gen.Number {
		log.Info("generation no longer active; following the new one", "active", current.Active.Number)
		stopGen(errSwitched) // the deferred wg.Wait needs followMeta gone
		return current, true
	}
	// Only the lease holder stores the generation's status: a standby's
	// would hide the active runner's state from operators.
	wg.Go(func() { publishStatus(genCtx, r.meta, track) })
	wg.Go(func() {
		l.keep(genCtx, func(err error) {
			log.Error("projection stopped: lease lost", "error", err)
			stopGen(err)
		})
	})
	if len(g.meta.Retired) > 0 {
		// A rebuild that did not finish its cleanup left these.
		wg.Go(func() {
			if err := r.meta.removeRetired(genCtx, p.Name); err != nil && genCtx.Err() == nil {
				log.Warn("retired generations not removed; the next start or rebuild tries again", "error", err)
			}
		})
	}

	for attempt := 0; genCtx.Err() == nil; {
		err := pl.provision(genCtx)
		if err == nil {
			track.setState(StateRunning, nil, "")
			r.cfg.metrics.StateChanged(p.Name, StateRunning)
			g.signal()
			err = pl.session(genCtx, false)
		}
		var failed *FailedError
		switch {
		case genCtx.Err() != nil || errors.Is(err, errAbandoned):
			// Stopping, switched or lease lost.
		case errors.As(err, &failed):
			attempt = 0
			log.Error("projection failed: skip the event or fix the cause and resume",
				"sequence", failed.Failure.Sequence, "type", failed.Failure.Type, "error", failed.Failure.Error)
			// Read the resume count before the failure is visible: any
			// resume an operator sends after seeing it counts.
			base, skipped := g.requests(genCtx, pl, failed.Failure.Sequence)
			if skipped {
				continue
			}
			track.setState(StateFailed, &failed.Failure, "")
			r.cfg.metrics.StateChanged(p.Name, StateFailed)
			g.signal()
			g.waitForOperator(genCtx, failed.Failure.Sequence, base)
		default:
			delay := r.cfg.backoff(attempt)
			attempt++
			log.Warn("projection pipeline stopped, restarting from the checkpoint", "error", err, "retry_in", delay)
			track.setState(StateRetrying, nil, err.Error())
			r.cfg.metrics.StateChanged(p.Name, StateRetrying)
			g.signal()
			sleep(genCtx, delay)
		}
	}
	track.setState(StateStopped, nil, "")
	r.meta.putStatus(context.Background(), track.tick(time.Now()))
	return g.after(ctx, switched)
}

// after returns the new meta when the generation was switched, false when
// the runner is stopping.
func (g *genRun) after(ctx context.Context, switched <-chan Meta) (Meta, bool) {
	select {
	case m := <-switched:
		return m, true
	default:
	}
	if ctx.Err() != nil {
		return Meta{}, false
	}
	// Lease lost: start over with the current meta (standby until free).
	m, _, err := g.r.meta.load(ctx, g.u.p.Name)
	if err != nil {
		sleep(ctx, g.r.cfg.LeaseTTL)
		return g.meta, ctx.Err() == nil
	}
	return m, true
}

// followMeta passes operator requests to the pipeline and stops the
// generation when another one becomes active.
func (g *genRun) followMeta(ctx context.Context, stop context.CancelCauseFunc, switched chan<- Meta, pl *pipeline) {
	gen := g.meta.Active.Number
	pl.setSkips(g.meta.skipsFor(gen))
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-g.metas:
			if !ok {
				return
			}
			pl.setSkips(m.skipsFor(gen))
			if m.Active.Number != gen {
				g.r.cfg.logger.Info("projection switched to a rebuilt generation", "projection", m.Name,
					"from", g.meta.Active.Number, "to", m.Active.Number, "bucket", m.Active.Bucket)
				switched <- m
				stop(errSwitched)
				return
			}
			g.operator(m)
		}
	}
}

var errSwitched = errors.New("projections: generation switched")

// operator hands the latest meta to a failed pipeline waiting for a request.
func (g *genRun) operator(m Meta) {
	ch := g.u.operatorCh()
	select {
	case <-ch:
	default:
	}
	ch <- m
}

func (u *unit) operatorCh() chan Meta {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.ops == nil {
		u.ops = make(chan Meta, 1)
	}
	return u.ops
}

// requests reads the operator requests as they stand: the resume count,
// and whether seq is to be skipped already.
func (g *genRun) requests(ctx context.Context, pl *pipeline, seq uint64) (uint64, bool) {
	m, _, err := g.r.meta.load(ctx, g.u.p.Name)
	if err != nil {
		return g.meta.Resume, false
	}
	gen := g.meta.Active.Number
	pl.setSkips(m.skipsFor(gen))
	return m.Resume, m.skips(gen, seq)
}

// waitForOperator blocks while the projection is failed at seq, until an
// operator skips that event or resumes (the resume count passes base).
func (g *genRun) waitForOperator(ctx context.Context, seq, base uint64) {
	ch := g.u.operatorCh()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-ch:
			if m.skips(g.meta.Active.Number, seq) {
				g.r.cfg.logger.Warn("operator skips the failed event", "projection", g.u.p.Name, "generation", g.meta.Active.Number, "sequence", seq)
				return
			}
			if m.Resume > base {
				g.r.cfg.logger.Info("operator resumes the projection", "projection", g.u.p.Name, "sequence", seq)
				return
			}
		}
	}
}

// publishStatus stores a generation's status every StatusInterval and at
// once on a state change, until ctx ends.
func publishStatus(ctx context.Context, meta *metaStore, t *tracker) {
	tick := time.NewTicker(meta.cfg.StatusInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-t.changed:
		}
		s := t.tick(time.Now())
		meta.cfg.metrics.Lag(s.Projection, s.Lag)
		meta.putStatus(ctx, s)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
