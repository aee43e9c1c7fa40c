package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/logctx"
	"github.com/jetflow/jetflow/wire"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
)

// WorkerJetStream is the part of jetstream.JetStream a worker uses.
type WorkerJetStream interface {
	streams.StreamManager
	ConsumerManager
}

// Worker runs one subscription: it pulls from the subscription's durable
// consumers and calls the handler with bounded concurrency, most urgent
// priority first. Start it once, Stop it once (or use Run).
type Worker struct {
	js      WorkerJetStream
	sub     Subscription
	durable string
	handler Handler
	filters Filters
	opts    workerOptions
	log     *slog.Logger

	mu      sync.Mutex
	state   int // stateNew, stateRunning, stateStopping, stateStopped
	levels  []*levelRun
	loops   []*loop // every loop started and not yet closed
	slots   []*inflight
	runners sync.WaitGroup
	gate    *gate
	ctx     context.Context // handlers' context, cancelled on a hard stop
	cancel  context.CancelFunc
	hard    atomic.Bool   // the grace period ended: return, don't handle
	ticks   atomic.Uint64 // watchdog ticks so far: the clock of progress acks
	done    chan struct{} // closed when Stop has finished
	ending  lifecycle.Ending
	stopErr error
	wdQuit  chan struct{}
	wdDone  chan struct{}

	stats counters

	// schedStream is the topic's stream, for the cancelled-schedule check
	// (schedule.go); looked up on first use.
	schedMu     sync.Mutex
	schedStream jetstream.Stream
}

const (
	stateNew = iota
	stateRunning
	stateStopping
	stateStopped
)

// NewWorker validates sub and returns a worker for it; nothing runs until Start.
func NewWorker(js WorkerJetStream, sub Subscription, opts ...WorkerOption) (*Worker, error) {
	if err := sub.Validate(); err != nil {
		return nil, err
	}
	if sub.Handler == nil {
		return nil, fmt.Errorf("%w: subscription %q: a handler is required", ErrInvalidConfig, sub.Name)
	}
	sub = sub.withDefaults()
	filters, err := CompileFilters(sub.Filters)
	if err != nil {
		return nil, err
	}
	o := defaultWorkerOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{
		js:      js,
		sub:     sub,
		durable: sub.Durable(),
		handler: Chain(sub.Handler, sub.Middleware...),
		filters: filters,
		opts:    o,
		log:     o.logger.With(slog.String("subscription", sub.Name)),
		done:    make(chan struct{}),
	}
	return w, nil
}

// Subscription returns the worker's subscription with defaults applied.
func (w *Worker) Subscription() Subscription { return w.sub }

// Stats returns the outcome counts so far.
func (w *Worker) Stats() Stats { return w.stats.snapshot() }

// Done is closed once the worker has ended: stopped by Stop, or failed on
// its own (Err says why). Call Stop after a failure too: it returns what
// was pulled and releases the worker's goroutines.
func (w *Worker) Done() <-chan struct{} { return w.ending.Done() }

// Err says why the worker ended on its own: one of its consumers was
// deleted, or its connection closed. It is nil while it runs and after a
// Stop that no failure preceded.
func (w *Worker) Err() error { return w.ending.Err() }

// Start provisions the DLQ stream (unless disabled) and the subscription's
// consumers, then starts consuming. A subscription whose stored consumers
// differ from the worker's definition is refused with a
// *SubscriptionMismatchError unless the worker has WithSubscriptionUpdate. ctx bounds the provisioning; handlers
// get its values but not its cancellation.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != stateNew {
		return ErrWorkerStarted
	}
	if w.opts.dlq != nil {
		if err := ensureDLQExists(ctx, w.js, *w.opts.dlq); err != nil {
			return err
		}
	}
	cons, err := ensureConsumers(ctx, w.js, w.sub, w.opts.update, w.log)
	if err != nil {
		return err
	}
	defs := w.sub.consumers()
	// Real time: the test clock (WithClock) is for message expiry only.
	w.gate = newGate(w.sub.Concurrency, time.Now)
	for i, c := range cons {
		// A backlog at a level keeps lower levels waiting until it arrives.
		if info := c.CachedInfo(); info != nil && info.NumPending > 0 {
			w.gate.setClaim(defs[i].level, int(min(info.NumPending, uint64(w.sub.BatchSize))), startupClaimWindow)
		}
	}
	// Handlers keep ctx's values (trace, logger) but not its cancellation:
	// they run until Stop, not until the caller's start context ends.
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))

	for i, c := range cons {
		lr := &levelRun{level: defs[i].level, durable: defs[i].cfg.Durable, cons: c}
		w.levels = append(w.levels, lr)
		if err := w.startLoopsLocked(lr); err != nil {
			// Leave the worker as it was, and what was pulled to the server.
			for _, l := range w.loops {
				l.cc.Stop()
			}
			for _, m := range w.gate.close() {
				w.giveBack(m.raw)
			}
			w.levels, w.loops = nil, nil
			w.cancel()
			return err
		}
	}
	for range w.sub.Concurrency {
		r := &inflight{}
		w.slots = append(w.slots, r)
		w.runners.Go(func() { w.run(r) })
	}
	w.wdQuit, w.wdDone = make(chan struct{}), make(chan struct{})
	go w.watchdog()
	w.state = stateRunning
	w.log.Info("worker started", slog.String("stream", w.sub.StreamName()),
		slog.String("durable", w.durable), slog.Int("concurrency", w.sub.Concurrency))
	return nil
}

func (w *Worker) onConsumeError(_ jetstream.ConsumeContext, err error) {
	switch {
	case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
		// A level that no longer receives would starve silently: the
		// worker ends, and whoever runs it restarts it (which creates the
		// consumer again) or stops.
		if w.ending.Fail(fmt.Errorf("consumers: subscription %s: consumer gone: %w", w.sub.Name, err)) {
			w.log.Error("consumer gone; the worker ends", slog.String("error", err.Error()))
		}
	case errors.Is(err, jetstream.ErrConnectionClosed):
		w.ending.Fail(fmt.Errorf("consumers: subscription %s: %w", w.sub.Name, err))
	default:
		w.log.Debug("consume", slog.String("error", err.Error()))
	}
}

// Stop stops pulling and lets in-flight and already-pulled messages finish
// until ctx ends; then it cancels the handlers' context and returns the
// messages not yet handled to the server (nak) for redelivery (any the
// client still buffered come back once their AckWait passes). It waits for
// running handlers to return, so handlers must honour their ctx. It returns
// ctx's error when the grace period was cut short, nil otherwise.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	switch w.state {
	case stateNew:
		w.mu.Unlock()
		return ErrWorkerNotStarted
	case stateStopping, stateStopped:
		w.mu.Unlock()
		select {
		case <-w.done:
			return w.stopErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.state = stateStopping
	loops := slices.Clone(w.loops)
	w.mu.Unlock()

	for _, l := range loops {
		l.cc.Drain() // stop pulling; what was pulled still reaches onMsg
	}
	drained := make(chan struct{})
	go func() {
		for _, l := range loops {
			<-l.cc.Closed()
		}
		close(drained)
	}()
	ran := make(chan struct{})
	go func() {
		<-drained
		w.gate.finish() // nothing more arrives: runners empty the gate, then leave
		w.runners.Wait()
		close(ran)
	}()
	var err error
	select {
	case <-ran:
	case <-ctx.Done():
		err = ctx.Err()
		w.hard.Store(true)
		for _, m := range w.gate.close() {
			w.giveBack(m.raw)
		}
		w.cancel()
		<-ran
	}
	close(w.wdQuit)
	<-w.wdDone
	w.cancel()

	w.mu.Lock()
	w.state = stateStopped
	w.stopErr = err
	w.mu.Unlock()
	close(w.done)
	w.ending.Stopped()
	w.log.Info("worker stopped", slog.Bool("graceful", err == nil))
	return err
}

// Run starts the worker and runs it until ctx ends or the worker ends on
// its own, then stops it with the shutdown grace period. It returns the
// worker's failure (Err), or Stop's error.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-w.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.grace)
	defer cancel()
	return errors.Join(w.Err(), w.Stop(sctx))
}

// morePending reports whether the consumer had more messages to deliver
// after this one.
func (m *Message) morePending() bool {
	md, err := m.Metadata()
	return err == nil && md.NumPending > 0
}

// giveBack returns an unhandled message for prompt redelivery.
func (w *Worker) giveBack(raw jetstream.Msg) {
	_ = raw.Nak()
	w.outcome(OutcomeReturned)
}

func (w *Worker) outcome(o Outcome) {
	w.stats.add(o)
	if w.opts.metrics != nil {
		w.opts.metrics.ObserveOutcome(w.sub.Name, o)
	}
}

// process decides what happens to one message and acknowledges it.
func (w *Worker) process(m *Message) {
	if w.hard.Load() {
		w.giveBack(m.raw)
		return
	}
	if h := m.raw.Headers(); len(h) > 0 {
		if exp := h.Get(wire.HeaderExpiresAt); exp != "" && w.expired(exp) {
			w.ack(m, OutcomeExpired)
			return
		}
		if target := h.Get(wire.HeaderReplayFor); target != "" && target != w.durable {
			w.ack(m, OutcomeSkipped)
			return
		}
		if h.Get(wire.HeaderScheduleToken) != "" {
			cancelled, err := w.cancelledSchedule(m)
			if err != nil {
				w.fail(m, err)
				return
			}
			if cancelled {
				w.ack(m, OutcomeCancelled)
				return
			}
		}
	}
	if !w.filters.Empty() && !w.filters.Match(m.Data()) {
		w.ack(m, OutcomeFiltered)
		return
	}
	start := time.Now()
	err := w.call(m)
	if w.opts.metrics != nil {
		w.opts.metrics.ObserveHandler(m.Subscription(), time.Since(start), err)
	}
	if err == nil {
		w.ack(m, OutcomeAcked)
		return
	}
	if w.hard.Load() && errors.Is(err, context.Canceled) {
		w.giveBack(m.raw)
		return
	}
	w.fail(m, err)
}

func (w *Worker) expired(exp string) bool {
	t, err := time.Parse(time.RFC3339Nano, exp)
	if err != nil {
		// A header we cannot read must not drop messages.
		return false
	}
	return !w.opts.now().Before(t)
}

// call runs the handler chain; a panic becomes an error so one bad message
// cannot take the worker down.
func (w *Worker) call(m *Message) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v}
		}
	}()
	ctx := w.ctx
	if tp := m.TraceParent(); wire.ValidTraceParent(tp) {
		// Whatever the handler publishes or logs stays in the same trace.
		ctx = logctx.With(wire.WithTraceParent(ctx, tp), "trace_id", wire.TraceID(tp))
	}
	return w.handler(ctx, m)
}

// ack acknowledges without waiting for the server's confirmation: on the
// hot path a round trip per message would halve throughput, and a lost ack
// only means one redelivery.
func (w *Worker) ack(m *Message, o Outcome) {
	if err := m.raw.Ack(); err != nil {
		w.log.Debug("ack", slog.String("subject", m.Subject()), slog.String("error", err.Error()))
	}
	w.outcome(o)
}

// fail retries with the backoff schedule or dead-letters.
func (w *Worker) fail(m *Message, err error) {
	attempt := max(m.Attempt(), 1)
	if IsPermanent(err) || attempt >= w.sub.maxDeliver() {
		// TermWithReason makes the server publish MSG_TERMINATED with the
		// reason; the DLQ stream captures it.
		reason := termReason(err)
		if terr := m.raw.TermWithReason(reason); terr != nil {
			w.log.Warn("term", slog.String("subject", m.Subject()), slog.String("error", terr.Error()))
		}
		w.log.Warn("dead-lettered", slog.String("subject", m.Subject()), slog.Int("attempt", attempt),
			slog.Bool("permanent", IsPermanent(err)), slog.String("reason", reason))
		w.outcome(OutcomeDeadLettered)
		return
	}
	delay := w.sub.backoff(attempt)
	if nerr := m.raw.NakWithDelay(delay); nerr != nil {
		w.log.Warn("nak", slog.String("subject", m.Subject()), slog.String("error", nerr.Error()))
	}
	w.log.Debug("retrying", slog.String("subject", m.Subject()), slog.Int("attempt", attempt),
		slog.Duration("delay", delay), slog.String("error", err.Error()))
	w.outcome(OutcomeRetried)
}

// maxReasonBytes bounds a termination reason; it travels in the ack and
// the advisory.
const maxReasonBytes = 1024

func termReason(err error) string {
	s := err.Error()
	if s == "" {
		s = "handler failed"
	}
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
