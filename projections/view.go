package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/streams"
)

// Defaults of the query side.
const (
	// DefaultMaxWait bounds how long a query waits for min_sequence.
	DefaultMaxWait = 2 * time.Second
	// foreignGrace is how long a min_sequence wait trusts the checkpoint
	// alone before asking the stream whether the sequence is one this read
	// model follows at all (a sequence of another aggregate type never
	// reaches the checkpoint).
	foreignGrace = 50 * time.Millisecond
	// switchWait bounds how long a view keeps serving the old generation
	// after a switch while the rebuilt one is still behind it.
	switchWait = 10 * time.Second
)

// errSuperseded ends the watch of a generation the view no longer serves.
var errSuperseded = errors.New("projections: generation superseded")

// Model is the in-memory form of one read model, filled from its bucket.
// A view calls Put and Delete from one goroutine, with its write lock held;
// queries read it under the read lock.
type Model interface {
	// Put stores the record of key; an error (a record it cannot decode)
	// is logged and the record left out.
	Put(key string, value []byte) error
	Delete(key string)
}

// View keeps a read model in memory: it loads the active generation's
// bucket from a watch, applies every change as it is stored, tracks the
// checkpoint, and follows the meta bucket to swap to a rebuilt generation
// once that one is loaded. Queries read it through Read.
type View[M Model] struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	cfg      Config
	p        Projection
	newModel func() M
	maxWait  time.Duration
	log      *slog.Logger

	mu      sync.RWMutex
	model   M
	ready   bool
	gen     Generation
	applied uint64
	changed chan struct{} // closed and replaced whenever applied moves or the model swaps
	swapped chan int      // a generation's model was swapped in

	life    sync.Mutex // guards cancel and unwatch
	cancel  context.CancelFunc
	unwatch func()
	wg      sync.WaitGroup
	ending  lifecycle.Ending
}

// NewView returns a view of p's read model; newModel makes an empty model
// for each generation loaded. cfg.MaxWait bounds min_sequence waits.
func NewView[M Model](nc *nats.Conn, cfg Config, p Projection, newModel func() M, opts ...Option) (*View[M], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.apply(opts).withDefaults()
	if !validName(p.Name) || len(p.Subjects) == 0 {
		return nil, fmt.Errorf("%w: a view needs the projection's name and subjects", ErrInvalidProjection)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return &View[M]{
		nc: nc, js: js, cfg: cfg, p: p, newModel: newModel, maxWait: cfg.MaxWait,
		log:     cfg.logger.With("read_model", p.Name),
		changed: make(chan struct{}),
		swapped: make(chan int),
	}, nil
}

// Start starts loading the read model in the background and following
// it, and returns at once: what cannot be reached yet (the meta bucket, a
// bucket being rebuilt) is tried again until Stop. Until a generation is
// loaded, Read answers ErrNotReady; WaitLoaded waits for it. The view ends
// on its own (Done, Err) when its connection closes.
func (v *View[M]) Start(context.Context) error {
	v.life.Lock()
	defer v.life.Unlock()
	if v.cancel != nil {
		return fmt.Errorf("projections: view %s started twice", v.p.Name)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	v.unwatch = lifecycle.WatchConn(v.nc, func(err error) { v.ending.Fail(fmt.Errorf("projections: view %s: %w", v.p.Name, err)) })
	v.wg.Go(func() { v.run(runCtx) })
	return nil
}

// WaitLoaded waits until a generation of the read model is loaded and
// served, or ctx ends (its error, wrapped), or the view ends.
func (v *View[M]) WaitLoaded(ctx context.Context) error {
	for {
		v.mu.RLock()
		ready, ch := v.ready, v.changed
		v.mu.RUnlock()
		if ready {
			return nil
		}
		select {
		case <-ch:
		case <-v.ending.Done():
			if err := v.ending.Err(); err != nil {
				return err
			}
			return fmt.Errorf("projections: view %s: %w", v.p.Name, ErrNotReady)
		case <-ctx.Done():
			return fmt.Errorf("projections: view %s not loaded: %w", v.p.Name, ctx.Err())
		}
	}
}

// run opens the meta record and follows it until ctx ends. What fails
// before the following starts (the meta bucket not reachable yet) is tried
// again, so a view whose Start gave up still loads once it can.
func (v *View[M]) run(ctx context.Context) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		meta, err := openMeta(ctx, v.js, v.cfg)
		if err == nil {
			_, err = meta.ensure(ctx, v.p)
		}
		var metas <-chan Meta
		if err == nil {
			metas, err = meta.watch(ctx, v.p.Name)
		}
		if err == nil {
			v.follow(ctx, metas)
			return
		}
		if ctx.Err() != nil {
			return
		}
		delay := v.cfg.backoff(min(attempt, 6))
		v.log.Warn("read model not followed yet, trying again", "error", err, "retry_in", delay)
		sleep(ctx, delay)
	}
}

// Ready reports whether a model is loaded and served.
func (v *View[M]) Ready() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.ready
}

// Stop stops following the bucket and waits, until ctx ends, for the
// view's goroutines to return; reads keep answering from memory.
func (v *View[M]) Stop(ctx context.Context) error {
	v.life.Lock()
	cancel, unwatch := v.cancel, v.unwatch
	v.life.Unlock()
	defer v.ending.Stopped()
	if cancel == nil {
		return nil
	}
	unwatch()
	cancel()
	stopped := make(chan struct{})
	go func() { v.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("projections: view %s: stop: %w", v.p.Name, ctx.Err())
	}
}

// Done is closed once the view has ended: stopped, or failed because its
// connection closed.
func (v *View[M]) Done() <-chan struct{} { return v.ending.Done() }

// Err says why the view ended on its own; nil after Stop.
func (v *View[M]) Err() error { return v.ending.Err() }

// Applied returns the checkpoint of the generation being served.
func (v *View[M]) Applied() uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.applied
}

// Generation returns the generation being served.
func (v *View[M]) Generation() Generation {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.gen
}

// Read calls fn with the model once it has applied stream sequence
// minSeq (0: at once), and returns the checkpoint it read at. It waits at
// most the view's max wait (or until ctx ends), then returns a
// *BehindError. fn must not keep the model beyond its return.
func (v *View[M]) Read(ctx context.Context, minSeq uint64, fn func(M) error) (uint64, error) {
	for {
		enough, err := v.wait(ctx, minSeq)
		if err != nil {
			return v.Applied(), err
		}
		v.mu.RLock()
		if !v.ready {
			v.mu.RUnlock()
			return 0, fmt.Errorf("%w: %s", ErrNotReady, v.p.Name)
		}
		// A forced swap between the wait and the lock may have gone back.
		if v.applied >= enough {
			defer v.mu.RUnlock()
			return v.applied, fn(v.model)
		}
		v.mu.RUnlock()
	}
}

// wait returns once the model is ready and current as far as seq asks,
// with the checkpoint it judged enough (below seq when no event the model
// follows lies between them).
func (v *View[M]) wait(ctx context.Context, seq uint64) (uint64, error) {
	deadline := time.NewTimer(v.maxWait)
	defer deadline.Stop()
	grace := time.NewTimer(foreignGrace)
	defer grace.Stop()
	afterGrace, checkDue := false, false
	for {
		v.mu.RLock()
		ready, applied, ch := v.ready, v.applied, v.changed
		v.mu.RUnlock()
		if ready && applied >= seq {
			return applied, nil
		}
		if ready && checkDue {
			checkDue = false
			if done, err := v.nothingToApply(ctx, applied, seq); err == nil && done {
				return applied, nil
			}
		}
		select {
		case <-ch:
			// After the grace, each move of the checkpoint may have
			// applied the last event below seq this model follows.
			checkDue = afterGrace
		case <-grace.C:
			afterGrace, checkDue = true, true
		case <-deadline.C:
			if !ready {
				return 0, fmt.Errorf("%w: %s", ErrNotReady, v.p.Name)
			}
			return 0, &BehindError{Projection: v.p.Name, Wanted: seq, Applied: applied}
		case <-ctx.Done():
			if !ready {
				return 0, fmt.Errorf("%w: %s", ErrNotReady, v.p.Name)
			}
			return 0, &BehindError{Projection: v.p.Name, Wanted: seq, Applied: applied}
		}
	}
}

// nothingToApply asks the stream's leader whether seq is stored and no
// event this read model follows lies in (applied, seq]; then the model is
// as current as seq asks. A sequence not stored yet may still become an
// event the model follows. Direct gets are not used: a replica a little
// behind could miss the very event the client just wrote.
func (v *View[M]) nothingToApply(ctx context.Context, applied, seq uint64) (bool, error) {
	// Bounded well below a query's wait: it is asked again on the next move.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	stream := v.cfg.Streams.EventStream
	if _, stored, err := streams.GetFromLeader(ctx, v.js, stream, seq, ""); err != nil || !stored {
		return false, err
	}
	for _, subject := range v.p.Subjects {
		next, found, err := streams.GetFromLeader(ctx, v.js, stream, applied+1, subject)
		if err != nil {
			return false, err
		}
		if found && next.Sequence <= seq {
			return false, nil
		}
	}
	return true, nil
}

// loader keeps one generation's model loaded.
type loader struct {
	gen    int
	cancel context.CancelFunc
	done   chan struct{}
}

func (v *View[M]) startLoader(ctx context.Context, g Generation) *loader {
	lctx, cancel := context.WithCancel(ctx)
	l := &loader{gen: g.Number, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		v.load(lctx, g)
	}()
	return l
}

func (l *loader) stop() {
	if l != nil {
		l.cancel()
		<-l.done
	}
}

// follow loads the active generation and, when the meta record switches,
// loads the new one beside it: the old one keeps being served (and kept
// current) until the new one has caught up with it, so a switch never
// takes back what a client has read.
func (v *View[M]) follow(ctx context.Context, metas <-chan Meta) {
	var serving, next *loader
	defer func() {
		next.stop()
		serving.stop()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case gen := <-v.swapped:
			if next != nil && gen == next.gen {
				serving.stop()
				serving, next = next, nil
			}
		case m, ok := <-metas:
			if !ok {
				return
			}
			switch {
			case serving == nil:
				serving = v.startLoader(ctx, m.Active)
			case next != nil && m.Active.Number == next.gen, next == nil && m.Active.Number == serving.gen:
			default:
				next.stop()
				next = v.startLoader(ctx, m.Active)
			}
		}
	}
}

// load fills a model from generation g's bucket, swaps it in once loaded
// and caught up, then applies each change until ctx ends or another
// generation is served. A watch that breaks (a deleted bucket, a lost
// connection) is started again.
func (v *View[M]) load(ctx context.Context, g Generation) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := v.watch(ctx, g)
		if ctx.Err() != nil || errors.Is(err, errSuperseded) {
			return
		}
		delay := v.cfg.backoff(min(attempt, 6))
		v.log.Warn("read model watch ended, reloading", "bucket", g.Bucket, "error", err, "retry_in", delay)
		sleep(ctx, delay)
	}
}

func (v *View[M]) watch(ctx context.Context, g Generation) error {
	// Bounded, and given up when ctx ends, even on a stuck connection.
	kv, err := bounded(ctx, v.cfg.WriteTimeout, func(ctx context.Context) (jetstream.KeyValue, error) { return v.js.KeyValue(ctx, g.Bucket) }, nil)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", g.Bucket, err)
	}
	w, err := watchBounded(ctx, v.cfg.WriteTimeout, func(ctx context.Context) (jetstream.KeyWatcher, error) { return kv.WatchAll(ctx) })
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", g.Bucket, err)
	}
	defer stopWatcher(ctx, w, v.cfg.WriteTimeout)
	model := v.newModel()
	var applied uint64
	loaded, serving := false, false
	var force <-chan time.Time
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-force:
			force, serving = nil, v.trySwap(ctx, model, g, applied, true)
			continue
		case e, ok = <-w.Updates():
		}
		if !ok {
			return errors.New("watch closed")
		}
		if serving {
			v.mu.Lock()
			if v.gen.Number != g.Number {
				v.mu.Unlock()
				return errSuperseded
			}
			if e != nil && v.applyEntry(v.model, e, &v.applied) {
				v.broadcastLocked()
			}
			v.mu.Unlock()
			continue
		}
		moved := e == nil // the initial values are in
		if e == nil {
			loaded = true
		} else {
			moved = v.applyEntry(model, e, &applied)
		}
		if loaded && moved {
			if serving = v.trySwap(ctx, model, g, applied, false); !serving && force == nil {
				t := time.NewTimer(switchWait)
				defer t.Stop()
				force = t.C
			}
		}
	}
}

// applyEntry applies one watched entry to m; it reports whether the
// checkpoint moved.
func (v *View[M]) applyEntry(m M, e jetstream.KeyValueEntry, applied *uint64) bool {
	key := e.Key()
	if strings.HasPrefix(key, reservedKeyPrefix) {
		if key != CheckpointKey || e.Operation() != jetstream.KeyValuePut {
			return false
		}
		var cp checkpointRecord
		if err := json.Unmarshal(e.Value(), &cp); err != nil || cp.Sequence <= *applied {
			return false
		}
		*applied = cp.Sequence
		return true
	}
	if e.Operation() != jetstream.KeyValuePut {
		m.Delete(key)
		return false
	}
	if err := m.Put(key, e.Value()); err != nil {
		v.log.Warn("record left out of the read model", "key", key, "error", err)
	}
	return false
}

// trySwap serves m (generation g, checkpoint applied) unless it is a new
// generation still behind the one served; force serves it anyway. It
// reports whether m is served now.
func (v *View[M]) trySwap(ctx context.Context, m M, g Generation, applied uint64, force bool) bool {
	v.mu.Lock()
	switching := v.ready && v.gen.Number != g.Number
	if switching && applied < v.applied && !force {
		v.mu.Unlock()
		return false
	}
	if switching {
		if applied < v.applied {
			v.log.Warn("rebuilt generation still behind the old one; serving it anyway", "from", v.gen.Number, "to", g.Number,
				"applied", applied, "old_applied", v.applied, "waited", switchWait)
		}
		v.log.Info("read model switched to a rebuilt generation", "from", v.gen.Number, "to", g.Number, "bucket", g.Bucket, "applied", applied)
	}
	v.model, v.gen, v.applied, v.ready = m, g, applied, true
	v.broadcastLocked()
	v.mu.Unlock()
	select {
	case v.swapped <- g.Number:
	case <-ctx.Done():
	}
	return true
}

func (v *View[M]) broadcastLocked() {
	close(v.changed)
	v.changed = make(chan struct{})
}
