package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestQueueSharesAndPubSubFansOut(t *testing.T) {
	t.Parallel()
	const n = 10_000
	e := newTestEnv(t)
	e.topic(t, "orders")
	e.publishN(t, "orders", n, PriorityNormal)

	// Two workers on one queue subscription: each message exactly once.
	var mu sync.Mutex
	byID := map[string]int{}
	var perWorker [2]atomic.Int64
	queueHandler := func(i int) Handler {
		return func(_ context.Context, m *Message) error {
			perWorker[i].Add(1)
			mu.Lock()
			byID[m.ID()]++
			mu.Unlock()
			return nil
		}
	}
	// Two pub/sub instances: each gets every message.
	a, b := newRecorder(nil), newRecorder(nil)
	queue := Subscription{Name: "billing", Topic: "orders", Concurrency: 4, BatchSize: 200}
	w1 := queue
	w1.Handler = queueHandler(0)
	w2 := queue
	w2.Handler = queueHandler(1)
	q1, q2 := e.startWorker(t, w1), e.startWorker(t, w2)
	e.startWorker(t, Subscription{Name: "audit", Topic: "orders", Mode: ModePubSub, Instance: "a", BatchSize: 500, Handler: a.handle})
	e.startWorker(t, Subscription{Name: "audit", Topic: "orders", Mode: ModePubSub, Instance: "b", BatchSize: 500, Handler: b.handle})

	waitFor(t, 30*time.Second, "the queue to handle every message", func() bool {
		return q1.Stats().Acked+q2.Stats().Acked >= n
	})
	waitFor(t, 30*time.Second, "both pub/sub instances to get every message", func() bool {
		return a.distinct() == n && b.distinct() == n
	})
	mu.Lock()
	defer mu.Unlock()
	for id, c := range byID {
		if c != 1 {
			t.Fatalf("message %s handled %d times by the queue", id, c)
		}
	}
	if len(byID) != n {
		t.Fatalf("queue handled %d distinct messages, want %d", len(byID), n)
	}
	if perWorker[0].Load() == 0 || perWorker[1].Load() == 0 {
		t.Errorf("one queue worker got nothing: %d / %d", perWorker[0].Load(), perWorker[1].Load())
	}
	if a.len() != n || b.len() != n {
		t.Errorf("pub/sub deliveries: %d and %d, want %d each", a.len(), b.len(), n)
	}
}

func TestPriorityBacklogCriticalFirst(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "jobs")
	e.publishN(t, "jobs", 1000, PriorityLow)
	e.publishN(t, "jobs", 10, PriorityCritical)
	var mu sync.Mutex
	var order []Priority
	e.startWorker(t, Subscription{Name: "runner", Topic: "jobs", Handler: func(_ context.Context, m *Message) error {
		mu.Lock()
		order = append(order, m.Priority())
		mu.Unlock()
		return nil
	}})
	waitFor(t, 20*time.Second, "every job", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 1010
	})
	mu.Lock()
	defer mu.Unlock()
	lows, critical := 0, 0
	for i, p := range order {
		switch p {
		case PriorityLow:
			lows++
			if lows == 11 && critical < 10 {
				t.Fatalf("11th low handled at %d with only %d of 10 critical before it: %v", i, critical, order[:i+1])
			}
		case PriorityCritical:
			critical++
		}
	}
}

func TestPriorityOrderWithConcurrency(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "jobs")
	e.publishN(t, "jobs", 200, PriorityLow)
	e.publishN(t, "jobs", 50, PriorityNormal)
	e.publishN(t, "jobs", 20, PriorityHigh)
	var mu sync.Mutex
	var order []Priority
	e.startWorker(t, Subscription{Name: "runner", Topic: "jobs", Concurrency: 4, Handler: func(_ context.Context, m *Message) error {
		mu.Lock()
		order = append(order, m.Priority())
		mu.Unlock()
		return nil
	}})
	waitFor(t, 20*time.Second, "every job", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 270
	})
	mu.Lock()
	defer mu.Unlock()
	// With 4 slots at most a few lower ones can start before the backlog's
	// first pull settles; the bulk must come in priority order.
	lastHigh, firstLow := -1, len(order)
	for i, p := range order {
		if p == PriorityHigh {
			lastHigh = i
		}
		if p == PriorityLow && i < firstLow {
			firstLow = i
		}
	}
	if lastHigh > 20+4 || firstLow < 70-4 {
		t.Fatalf("last high at %d, first low at %d: %v", lastHigh, firstLow, order)
	}
}

func TestTTLMessageNeverHandledAfterExpiry(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "alerts")
	rec := newRecorder(nil)
	sub := Subscription{Name: "pager", Topic: "alerts", Handler: rec.handle}
	if err := EnsureSubscription(testCtx(t), e.js, sub); err != nil { // exists, but nobody runs it
		t.Fatal(err)
	}
	e.publish(t, "alerts", Outgoing{Data: []byte(`{}`), MsgID: "short-lived", TTL: time.Second})
	time.Sleep(2 * time.Second) // the TTL is wall-clock time
	e.publish(t, "alerts", Outgoing{Data: []byte(`{}`), MsgID: "sentinel"})
	e.startWorker(t, sub)
	waitFor(t, 5*time.Second, "the sentinel", func() bool { return rec.distinct() == 1 })
	for _, s := range rec.snapshot() {
		if s.id == "short-lived" {
			t.Fatal("a message was handled after its TTL")
		}
	}
}

func TestExpiryCheckedBeforeTheServerRemovesTheMessage(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "alerts")
	// The server keeps this one for an hour; the worker's clock is two
	// hours ahead, so only the client-side check can stop it.
	e.publish(t, "alerts", Outgoing{Data: []byte(`{}`), MsgID: "expired", TTL: time.Hour})
	e.publish(t, "alerts", Outgoing{Data: []byte(`{}`), MsgID: "no-ttl"})
	rec := newRecorder(nil)
	w := e.startWorker(t, Subscription{Name: "pager", Topic: "alerts", Handler: rec.handle},
		WithClock(func() time.Time { return time.Now().Add(2 * time.Hour) }))
	waitFor(t, 5*time.Second, "both messages", func() bool { s := w.Stats(); return s.Acked+s.Expired == 2 })
	if s := w.Stats(); s.Expired != 1 || s.Acked != 1 || rec.len() != 1 || rec.snapshot()[0].id != "no-ttl" {
		t.Fatalf("stats %+v, handled %d", s, rec.len())
	}
}

func TestFilterRejectionsAreAckedNotDeadLettered(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	rec := newRecorder(nil)
	w := e.startWorker(t, Subscription{Name: "big-orders", Topic: "orders", Subjects: []string{"order.*"},
		Filters: []Filter{{Field: "amount", Operator: OpGreaterThan, Value: 100}}, Handler: rec.handle})
	for i, data := range []string{`{"amount":50}`, `{"amount":150}`, `not json`, `{"amount":"500"}`, `{}`} {
		e.publish(t, "orders", Outgoing{Key: "order.created", Data: []byte(data), MsgID: fmt.Sprint(i)})
	}
	e.publish(t, "orders", Outgoing{Key: "refund.created", Data: []byte(`{"amount":999}`)}) // not in the subject filter
	waitFor(t, 5*time.Second, "every message", func() bool { s := w.Stats(); return s.Acked+s.Filtered == 5 })
	if s := w.Stats(); s.Acked != 1 || s.Filtered != 4 || s.DeadLettered != 0 || rec.len() != 1 || rec.snapshot()[0].id != "1" {
		t.Fatalf("stats %+v, handled %d", s, rec.len())
	}
	if got, err := NewDLQ(e.js, DLQConfig{}).List(testCtx(t), ListOptions{}); err != nil || len(got) != 0 {
		t.Fatalf("dead letters: %v %v", got, err)
	}
}

func TestShutdownMidFlightLosesNothing(t *testing.T) {
	t.Parallel()
	const n = 1000
	e := newTestEnv(t)
	e.topic(t, "work")
	e.publishN(t, "work", n, PriorityNormal)
	var mu sync.Mutex
	handled := map[string]int{}
	slow := func(ctx context.Context, m *Message) error {
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		handled[m.ID()]++
		mu.Unlock()
		return nil
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(handled) }
	// A short ack wait so messages lost in flight at the stop come back soon.
	sub := Subscription{Name: "crunch", Topic: "work", Concurrency: 8, BatchSize: 400, AckWait: 2 * time.Second, Handler: slow}
	w, err := NewWorker(e.js, sub)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "some progress", func() bool { return count() >= 100 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := w.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop with a short grace: %v", err)
	}
	<-w.Done()
	first := count()
	if first >= n {
		t.Fatalf("the first worker handled everything (%d); the test needs messages in flight", first)
	}
	if w.Stats().Returned == 0 {
		t.Error("nothing was returned at the hard stop")
	}
	e.startWorker(t, sub)
	waitFor(t, 20*time.Second, "every message after the restart", func() bool { return count() == n })
}

func TestGracefulStopFinishesPulledMessages(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "work")
	e.publishN(t, "work", 200, PriorityNormal)
	var mu sync.Mutex
	seen := map[string]int{}
	started := make(chan struct{}, 1)
	handler := func(_ context.Context, m *Message) error {
		select {
		case started <- struct{}{}:
		default:
		}
		time.Sleep(time.Millisecond)
		mu.Lock()
		seen[m.ID()]++
		mu.Unlock()
		return nil
	}
	// A short ack wait: what the server had in flight to the stopped worker
	// (a pull request outlives the client's subscription) comes back soon.
	sub := Subscription{Name: "crunch", Topic: "work", BatchSize: 50, AckWait: time.Second, Handler: handler}
	w, err := NewWorker(e.js, sub)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := w.Stop(testCtx(t)); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	s := w.Stats()
	mu.Lock()
	first := len(seen)
	mu.Unlock()
	if s.Returned != 0 || int(s.Acked) != first || s.Acked == 0 {
		t.Fatalf("stats %+v, handled %d: a graceful stop acks what it handled and returns nothing", s, first)
	}
	// A new worker handles everything else, and nothing the first one acked.
	e.startWorker(t, sub)
	waitFor(t, 20*time.Second, "all 200 messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 200
	})
	mu.Lock()
	defer mu.Unlock()
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("message %s handled %d times", id, n)
		}
	}
}

func TestStopLeavesNoGoroutines(t *testing.T) {
	// Not parallel: it counts the process's goroutines.
	e := newTestEnv(t)
	e.topic(t, "work")
	e.publishN(t, "work", 100, PriorityHigh)
	sub := Subscription{Name: "crunch", Topic: "work", Concurrency: 3, Handler: func(context.Context, *Message) error { return nil }}
	if err := EnsureSubscription(testCtx(t), e.js, sub); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureDLQ(testCtx(t), e.js, DLQConfig{}); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	w, err := NewWorker(e.js, sub)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the backlog", func() bool { return w.Stats().Acked == 100 })
	if runtime.NumGoroutine() <= before {
		t.Fatal("a running worker should own goroutines")
	}
	if err := w.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, fmt.Sprintf("goroutines back to %d", before), func() bool { return runtime.NumGoroutine() <= before })
	if err := w.Stop(testCtx(t)); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if err := w.Start(testCtx(t)); !errors.Is(err, ErrWorkerStarted) {
		t.Fatalf("restart of a stopped worker: %v", err)
	}
}

func TestWorkerValidation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	if _, err := NewWorker(e.js, Subscription{Name: "x", Topic: "orders"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no handler: %v", err)
	}
	w, err := NewWorker(e.js, Subscription{Name: "x", Topic: "missing", Handler: func(context.Context, *Message) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(testCtx(t)); err == nil || !strings.Contains(err.Error(), "TOPIC_MISSING does not exist") {
		t.Errorf("start on a missing topic: %v", err)
	}
	if err := (&Worker{}).Stop(testCtx(t)); !errors.Is(err, ErrWorkerNotStarted) {
		t.Errorf("stop before start: %v", err)
	}
	err = Subscription{Name: "bad name", Topic: "Orders", Stream: "EVENTS", Mode: ModePubSub, MaxRetries: -5,
		Backoff: []time.Duration{-1}, Concurrency: -1, Subjects: []string{"a b"},
		Filters: []Filter{{Field: "", Operator: "like"}}}.Validate()
	for _, want := range []string{"subscription name", "topic or stream, not both", "instance", "max retries", "backoff",
		"concurrency", "invalid subject", "filter 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation error %v does not mention %q", err, want)
		}
	}
}

func TestWorkerHeadersReachHandler(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	got := make(chan *Message, 1)
	var hdr nats.Header
	e.startWorker(t, Subscription{Name: "h", Topic: "orders", Handler: func(_ context.Context, m *Message) error {
		hdr = m.Header()
		got <- m
		return nil
	}})
	e.publish(t, "orders", Outgoing{Key: "a.b", Data: []byte("x"), Priority: PriorityHigh, MsgID: "id1", CorrelationID: "c",
		CausationID: "k", UserID: "u", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	m := <-got
	if m.ID() != "id1" || m.CorrelationID() != "c" || m.CausationID() != "k" || m.UserID() != "u" ||
		m.TraceParent() != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" || m.Topic() != "orders" ||
		m.Priority() != PriorityHigh || m.Key() != "a.b" || m.Subscription() != "h" || m.Attempt() != 1 || hdr == nil {
		t.Fatalf("message %+v", m)
	}
}

// In pubsub mode the handler's metrics and the Logging middleware used to
// get m.Subscription() = "<name>_<instance>", while outcomes got "<name>":
// the same subscription was labelled two ways, and Message's doc says it
// is "the name of the subscription".
func TestPubSubLabelsTheSubscriptionByItsName(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	m := &recordedMetrics{}
	w := e.startWorker(t, Subscription{Name: "audit", Topic: "orders", Mode: ModePubSub, Instance: "a",
		Handler: func(context.Context, *Message) error { return nil }}, WithMetrics(m))
	e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	waitFor(t, 5*time.Second, "the ack", func() bool { return w.Stats().Acked == 1 })
	handlers, outcomes := m.recorded()
	if len(handlers) != 1 || len(outcomes) != 1 || handlers[0] != "audit ok" || outcomes[0] != "audit acked" {
		t.Fatalf("handler calls %q, outcomes %q: want both labelled audit", handlers, outcomes)
	}
}

// WithMetrics reports each handler call with its result and each
// message's outcome.
func TestWorkerReportsHandlerCallsAndOutcomes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	m := &recordedMetrics{}
	w := e.startWorker(t, Subscription{Name: "billing", Topic: "orders", MaxRetries: NoRetries,
		Handler: func(_ context.Context, msg *Message) error {
			if string(msg.Data()) == "fail" {
				return Permanent(errors.New("boom"))
			}
			return nil
		}}, WithMetrics(m))
	e.publish(t, "orders", Outgoing{Data: []byte("ok")})
	e.publish(t, "orders", Outgoing{Data: []byte("fail")})
	waitFor(t, 5*time.Second, "both handled", func() bool { s := w.Stats(); return s.Acked == 1 && s.DeadLettered == 1 })
	handlers, outcomes := m.recorded()
	slices.Sort(handlers)
	slices.Sort(outcomes)
	if !slices.Equal(handlers, []string{"billing error", "billing ok"}) || !slices.Equal(outcomes, []string{"billing acked", "billing dead_lettered"}) {
		t.Fatalf("handler calls %q, outcomes %q", handlers, outcomes)
	}
}

// recordedMetrics keeps what a worker reports, as "<subscription> <result>".
type recordedMetrics struct {
	mu                 sync.Mutex
	handlers, outcomes []string
}

func (r *recordedMetrics) ObserveHandler(sub string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	result := "ok"
	if err != nil {
		result = "error"
	}
	if d < 0 {
		result = "negative duration"
	}
	r.handlers = append(r.handlers, sub+" "+result)
}

func (r *recordedMetrics) ObserveOutcome(sub string, o Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes = append(r.outcomes, sub+" "+string(o))
}

func (r *recordedMetrics) recorded() (handlers, outcomes []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.handlers), slices.Clone(r.outcomes)
}

// Lower-priority messages pulled ahead wait while a critical backlog runs
// for longer than their AckWait. They are held where the watchdog keeps
// them alive, and a level holding BatchSize of them stops pulling ahead:
// each is handled once, none is redelivered or dead-lettered.
func TestMessagesHeldBehindABacklogAreKeptAlive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		low     int
		retries int
	}{
		{"one low message, retries", 1, 1},
		{"one low message, no retries", 1, NoRetries},
		{"more low messages than the batch: the level pauses", 30, NoRetries},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			e.topic(t, "jobs")
			e.publishN(t, "jobs", 100, PriorityCritical)
			e.publishN(t, "jobs", tc.low, PriorityLow)
			var mu sync.Mutex
			lowCalls := map[string]int{}
			criticalLeft := 100
			var logs lockedBuffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			// The critical backlog takes 2 s, twice the AckWait.
			w := e.startWorker(t, Subscription{Name: "runner", Topic: "jobs", BatchSize: 5, AckWait: time.Second, MaxRetries: tc.retries,
				Handler: func(_ context.Context, m *Message) error {
					mu.Lock()
					defer mu.Unlock()
					if m.Priority() == PriorityLow {
						lowCalls[m.ID()]++
						return nil
					}
					criticalLeft--
					time.Sleep(20 * time.Millisecond)
					return nil
				}}, WithLogger(log))
			waitFor(t, 30*time.Second, "every message handled", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return criticalLeft == 0 && len(lowCalls) == tc.low
			})
			// Redeliveries of anything that timed out would come now.
			time.Sleep(1500 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			for id, n := range lowCalls {
				if n != 1 {
					t.Errorf("low message %s handled %d times", id, n)
				}
			}
			if s := w.Stats(); s.Acked != uint64(100+tc.low) || s.DeadLettered != 0 || s.Returned != 0 {
				t.Errorf("stats %+v, want %d acked and nothing else", s, 100+tc.low)
			}
			if dls, err := NewDLQ(e.js, DLQConfig{}).List(testCtx(t), ListOptions{Topic: "jobs"}); err != nil || len(dls) != 0 {
				t.Errorf("dead letters %d %v, want none", len(dls), err)
			}
			paused := strings.Contains(logs.String(), "priority level paused") && strings.Contains(logs.String(), "priority level resumed")
			if wantPause := tc.low > 5; paused != wantPause {
				t.Errorf("low level paused and resumed: %v, want %v", paused, wantPause)
			}
		})
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A stop whose grace period ends returns the messages not handled yet;
// even with NoRetries they come back to the next worker rather than to
// the DLQ (a return is not a handler's failure).
func TestHardStopReturnsMessagesEvenWithoutRetries(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "work")
	e.publishN(t, "work", 20, PriorityNormal)
	started := make(chan struct{}, 1)
	sub := Subscription{Name: "crunch", Topic: "work", BatchSize: 20, AckWait: time.Second, MaxRetries: NoRetries,
		Handler: func(ctx context.Context, m *Message) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}}
	w, err := NewWorker(e.js, sub)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	<-started
	waitFor(t, 5*time.Second, "the pull-ahead", func() bool {
		c, err := e.js.Consumer(testCtx(t), "TOPIC_WORK", "crunch-normal")
		return err == nil && c.CachedInfo().NumAckPending == 20
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop cut short: %v", err)
	}
	// What reached the callbacks is returned (nak); what the client still
	// buffered when it stopped comes back after AckWait. Either way each
	// message costs one delivery, not a handler's failure.
	if s := w.Stats(); s.Returned == 0 || s.Acked+s.DeadLettered != 0 {
		t.Fatalf("first worker %+v, want returns only", s)
	}

	var mu sync.Mutex
	handled := map[string]bool{}
	sub.Handler = func(_ context.Context, m *Message) error {
		mu.Lock()
		handled[m.ID()] = true
		mu.Unlock()
		return nil
	}
	e.startWorker(t, sub)
	waitFor(t, 10*time.Second, "the 20 returned messages handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 20
	})
	if dls, err := NewDLQ(e.js, DLQConfig{}).List(testCtx(t), ListOptions{}); err != nil || len(dls) != 0 {
		t.Fatalf("dead letters %d %v, want none", len(dls), err)
	}
}
