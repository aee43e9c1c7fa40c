package processes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// orderProcessDue is orderProcess with payment_due after due.
func orderProcessDue(due time.Duration) Definition[order] {
	def := orderProcess()
	placed := def.On[0].Handle
	def.On[0].Handle = func(ctx context.Context, p Instance[order], ev streams.Event) (Step[order], error) {
		step, err := placed(ctx, p, ev)
		step.Deadlines[0].After = due
		return step, err
	}
	return def
}

// The whole flow on a real server, with a deadline of two seconds: o-1
// pays in time (its deadline is cancelled and never runs), o-2 does not
// (its deadline cancels it). Every command reaches the command service.
func TestManagerEndToEndWithARealDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serveLedger(t)
	var logs logBuffer
	var met countMetrics
	m := start(t, e.nc, orderProcessDue(2*time.Second), Config{}, WithLogger(logs.logger()), WithMetrics(&met))
	placed := time.Now()
	e.appendEvent(t, "order", "o-1", "order.placed", nil)
	e.appendEvent(t, "order", "o-2", "order.placed", nil)
	eventually(t, 20*time.Second, func() (bool, string) {
		n1, n2 := e.ledgerNotes(t, "pay-o-1"), e.ledgerNotes(t, "pay-o-2")
		return len(n1) == 1 && len(n2) == 1, fmt.Sprintf("payment requests %v %v", n1, n2)
	})
	e.appendEvent(t, "payment", "pay-1", "payment.received", map[string]string{"order_id": "o-1"})
	eventually(t, 20*time.Second, func() (bool, string) {
		n := e.ledgerNotes(t, "order-o-2")
		return slices.Equal(n, []string{"cancelled"}), fmt.Sprintf("order o-2: %v", n)
	})
	if took := time.Since(placed); took < 2*time.Second {
		t.Errorf("o-2 cancelled after %s, before its deadline", took)
	}
	time.Sleep(time.Until(placed.Add(3500 * time.Millisecond)))
	if n := e.ledgerNotes(t, "order-o-1"); !slices.Equal(n, []string{"paid"}) {
		t.Errorf("order o-1: %v, want paid only (its deadline was cancelled)", n)
	}
	for _, id := range []string{"o-1", "o-2"} {
		r, ok := show(t, e.js, m.Config().Bucket, id)
		if !ok || r.Status != StatusEnded || !r.Removed || len(r.Deadlines) != 0 {
			t.Errorf("%s: %+v (found %v), want ended and removed", id, r, ok)
		}
	}
	// A late payment for o-1 is skipped with a log line.
	e.appendEvent(t, "payment", "pay-1b", "payment.received", map[string]string{"order_id": "o-1"})
	eventually(t, 10*time.Second, func() (bool, string) {
		return met.get("skipped_"+ReasonEnded) == 1, "no skip counted"
	})
	if !strings.Contains(logs.String(), "message skipped") || !strings.Contains(logs.String(), "reason=ended") {
		t.Errorf("no log line for the late event:\n%s", logs.String())
	}
	sum, err := Summarize(testCtx(t), e.js, "payment", m.Config().Bucket)
	if err != nil || sum.Running != 0 || sum.Removed != 2 {
		t.Errorf("summary %+v, %v", sum, err)
	}
	for k, want := range map[string]int{"started": 2, "ended": 2, "fired": 1, "handled_event": 3, "handled_deadline": 1} {
		if got := met.get(k); got != want {
			t.Errorf("metric %s = %d, want %d", k, got, want)
		}
	}
}

// forwarder serves commands on prefix "flaky" by passing them on to the
// command service ("cmd"); it drops the reply to the first request of
// each command id, as a crash after sending would.
type forwarder struct {
	mu   sync.Mutex
	seen map[string]int
}

func (f *forwarder) count(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[id]
}

func (f *forwarder) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.seen {
		n += c
	}
	return n
}

func serveFlaky(t *testing.T, nc *nats.Conn) *forwarder {
	t.Helper()
	f := &forwarder{seen: map[string]int{}}
	sub, err := nc.Subscribe("flaky.>", func(m *nats.Msg) {
		id := m.Header.Get(wire.HeaderCommandID)
		f.mu.Lock()
		f.seen[id]++
		first := f.seen[id] == 1
		f.mu.Unlock()
		fwd := nats.NewMsg("cmd." + strings.TrimPrefix(m.Subject, "flaky."))
		fwd.Data, fwd.Header = m.Data, m.Header
		resp, err := nc.RequestMsg(fwd, 5*time.Second)
		if err != nil || first {
			return
		}
		_ = m.RespondMsg(resp)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return f
}

// A crash between sending a command and acking its event: the event comes
// back, is found handled, and its command is sent again with the same id,
// which the command service answers without a second effect. An event
// handled, acked and delivered again sends nothing, and a manager that
// restarted (remembering nothing) sends it with its id again: still one
// effect.
func TestRedeliverySendsNoSecondCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serveLedger(t)
	f := serveFlaky(t, e.nc)
	var met countMetrics
	cfg := Config{CommandPrefix: "flaky", CommandTimeout: 300 * time.Millisecond, Backoff: []time.Duration{100 * time.Millisecond}}
	def := orderProcess()
	def.FromStart = true // a consumer that delivers new messages only cannot be reset
	m := start(t, e.nc, def, cfg, WithMetrics(&met))
	placed := e.appendEvent(t, "order", "o-1", "order.placed", nil)
	cmdID := CommandID("payment", "o-1", placed.ID, 0)
	eventually(t, 20*time.Second, func() (bool, string) {
		return f.count(cmdID) == 2 && met.get("skipped_"+ReasonDuplicate) == 1,
			fmt.Sprintf("command sent %d times, %d duplicates", f.count(cmdID), met.get("skipped_"+ReasonDuplicate))
	})
	if n := e.ledgerNotes(t, "pay-o-1"); len(n) != 1 {
		t.Fatalf("ledger pay-o-1 %v: the resend had an effect", n)
	}
	r, _ := show(t, e.js, m.Config().Bucket, "o-1")
	if r.Steps != 1 || len(r.Handled) != 1 {
		t.Errorf("record %+v: handled more than once", r)
	}

	// Delivered again after it was acked: found handled, nothing sent.
	if _, err := e.js.ResetConsumerToSequence(testCtx(t), e.cfg.EventStream, ConsumerPrefix+"payment", placed.Sequence); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		return met.get("skipped_"+ReasonDuplicate) == 2, "redelivery not seen"
	})
	if got := f.count(cmdID); got != 2 {
		t.Errorf("command sent %d times, want still 2", got)
	}

	// A restarted manager does not know it sent it: it sends it again,
	// with its id, and nothing happens twice.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	cfg.CommandPrefix = "cmd"
	var met2 countMetrics
	start(t, e.nc, def, cfg, WithMetrics(&met2))
	if _, err := e.js.ResetConsumerToSequence(testCtx(t), e.cfg.EventStream, ConsumerPrefix+"payment", placed.Sequence); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		return met2.get("skipped_"+ReasonDuplicate) == 1, "redelivery not seen"
	})
	if n := e.ledgerNotes(t, "pay-o-1"); len(n) != 1 {
		t.Errorf("ledger pay-o-1 %v after the restart's resend", n)
	}
}

// tally adds every event's n to its counter's state: an update per event
// that is easy to lose and to compare.
type tally struct {
	Count int `json:"count"`
	Sum   int `json:"sum"`
}

func tallyProcess() Definition[tally] {
	return Definition[tally]{
		Name:           "tally",
		AggregateTypes: []string{"item"},
		On: []On[tally]{{Event: "item.counted", Start: true, Instances: Field("counter"),
			Handle: func(_ context.Context, p Instance[tally], ev streams.Event) (Step[tally], error) {
				var d struct {
					N int `json:"n"`
				}
				if err := json.Unmarshal(ev.Data, &d); err != nil {
					return Step[tally]{}, err
				}
				s := p.State
				s.Count++
				s.Sum += d.N
				return Step[tally]{State: s}, nil
			}}},
	}
}

// Two managers in one Go process, each on its own connection, share 1,000
// events of 50 instances: every instance ends as a serial run leaves it.
// (twoserve_test.go runs the same through two serve processes.)
func TestTwoManagersLoseNoStateUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const events, instances = 1000, 50
	var m1, m2 countMetrics
	cfg := Config{Concurrency: 8}
	start(t, e.srv.Connect(t), tallyProcess(), cfg, WithMetrics(&m1))
	start(t, e.srv.Connect(t), tallyProcess(), cfg, WithMetrics(&m2))

	sim, err := NewSimulation(tallyProcess(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		ev := e.appendEvent(t, "item", fmt.Sprintf("i-%d", i), "item.counted", map[string]any{"counter": fmt.Sprintf("c-%d", i%instances), "n": i})
		if _, err := sim.Event(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 60*time.Second, func() (bool, string) {
		n := m1.get("handled_event") + m2.get("handled_event")
		return n == events, fmt.Sprintf("%d of %d handled", n, events)
	})
	for i := range instances {
		id := fmt.Sprintf("c-%d", i)
		r, ok := show(t, e.js, Bucket("tally"), id)
		want, _ := sim.Instance(id)
		if got := stateOf[tally](t, r); !ok || got.Count != want.State.Count || got.Sum != want.State.Sum || r.Steps != want.Steps {
			t.Errorf("%s: %+v after %d steps, the serial run %+v after %d", id, got, r.Steps, want.State, want.Steps)
		}
	}
	t.Logf("handled %d + %d; compare-and-set conflicts retried: %d + %d",
		m1.get("handled_event"), m2.get("handled_event"), m1.get("conflict"), m2.get("conflict"))
	if m1.get("handled_event") == 0 || m2.get("handled_event") == 0 {
		t.Errorf("one manager handled nothing: %d, %d", m1.get("handled_event"), m2.get("handled_event"))
	}
}

type timer struct {
	Stopped   bool `json:"stopped"`
	Rang      bool `json:"rang"`
	Violation bool `json:"violation"`
}

// timerProcess: timer.started sets ring after due; timer.stopped cancels
// it; ring marks the timer rung (and a violation if it was stopped).
func timerProcess(due time.Duration) Definition[timer] {
	return Definition[timer]{
		Name:           "timer",
		AggregateTypes: []string{"timer"},
		On: []On[timer]{
			{Event: "timer.started", Start: true, Handle: func(_ context.Context, p Instance[timer], _ streams.Event) (Step[timer], error) {
				return Step[timer]{State: p.State, Deadlines: []Deadline{{Name: "ring", After: due}}}, nil
			}},
			{Event: "timer.stopped", Handle: func(_ context.Context, p Instance[timer], _ streams.Event) (Step[timer], error) {
				s := p.State
				s.Stopped = true
				return Step[timer]{State: s, Cancel: []string{"ring"}}, nil
			}},
			{Event: "timer.boom", Handle: func(context.Context, Instance[timer], streams.Event) (Step[timer], error) {
				panic("boom")
			}},
		},
		Deadlines: map[string]DeadlineHandler[timer]{"ring": func(_ context.Context, p Instance[timer], _ Fired) (Step[timer], error) {
			s := p.State
			s.Rang = true
			s.Violation = s.Stopped
			return Step[timer]{State: s}, nil
		}},
	}
}

// A deadline cancelled before it fires never runs: neither when the
// cancel comes well before, nor when it races the fire, nor when a copy
// of the deadline's message arrives anyway.
func TestCancelledDeadlineNeverRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var met countMetrics
	m := start(t, e.nc, timerProcess(2*time.Second), Config{Concurrency: 32}, WithMetrics(&met))
	const n = 60
	for i := range n {
		e.appendEvent(t, "timer", fmt.Sprintf("t-%d", i), "timer.started", nil)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		return met.get("started") == n, fmt.Sprintf("%d started", met.get("started"))
	})
	// A third stopped at once, a third around their due time, a third never.
	for i := 0; i < n/3; i++ {
		e.appendTo(t, "timer", fmt.Sprintf("t-%d", i), "timer.stopped", nil)
	}
	var wg sync.WaitGroup
	for i := n / 3; i < 2*n/3; i++ {
		id := fmt.Sprintf("t-%d", i)
		due := mustShow(t, e, m, id).Deadlines[0].At
		wg.Go(func() {
			// From a little before the deadline's time to a little after:
			// the server's timer runs every 250 ms at most.
			time.Sleep(time.Until(due.Add(time.Duration(i%10)*100*time.Millisecond - 100*time.Millisecond)))
			e.appendTo(t, "timer", id, "timer.stopped", nil)
		})
	}
	wg.Wait()
	eventually(t, 20*time.Second, func() (bool, string) {
		return met.get("fired") >= n/3 && met.get("handled_event") == n+2*n/3,
			fmt.Sprintf("%d fired, %d events handled", met.get("fired"), met.get("handled_event"))
	})
	time.Sleep(1500 * time.Millisecond)
	raced := 0
	for i := range n {
		id := fmt.Sprintf("t-%d", i)
		r, _ := show(t, e.js, m.Config().Bucket, id)
		s := stateOf[timer](t, r)
		switch {
		case s.Violation:
			t.Errorf("%s: the deadline ran after it was cancelled", id)
		case i < n/3 && s.Rang:
			t.Errorf("%s: stopped at once, and rang", id)
		case i >= 2*n/3 && !s.Rang:
			t.Errorf("%s: never stopped, and never rang", id)
		case i >= n/3 && i < 2*n/3 && !s.Rang:
			raced++
		}
		if s.Stopped && len(r.Deadlines) != 0 {
			t.Errorf("%s: stopped with deadlines pending %+v", id, r.Deadlines)
		}
	}
	t.Logf("%d of %d racing stops came before their deadline", raced, n/3)

	// A copy of a cancelled deadline's message (the server fired it as it
	// was cancelled) is skipped: the instance no longer lists it.
	r, _ := show(t, e.js, m.Config().Bucket, "t-0")
	old := r.Handled[0]
	// Racing stops may have had fired copies skipped already.
	staleBefore := met.get("skipped_" + ReasonStale)
	msg := nats.NewMsg("topic." + DefaultDeadlineTopic + ".high.timer.t-0.stale")
	msg.Header.Set(HeaderProcess, "timer")
	msg.Header.Set(HeaderInstance, "t-0")
	msg.Header.Set(HeaderDeadline, "ring")
	msg.Header.Set(HeaderDeadlineID, deadlineID("timer", "t-0", old.ID, 0))
	if _, err := e.js.PublishMsg(testCtx(t), msg); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		return met.get("skipped_"+ReasonStale) == staleBefore+1, "stale deadline not skipped"
	})
	if s := stateOf[timer](t, mustShow(t, e, m, "t-0")); s.Rang {
		t.Error("the stale copy ran")
	}
}

func mustShow[S any](t *testing.T, e *env, m *Manager[S], id string) Record {
	t.Helper()
	r, ok := show(t, e.js, m.Config().Bucket, id)
	if !ok {
		t.Fatalf("no instance %s", id)
	}
	return r
}

// A deadline set before the server and the manager stop fires once they
// are back, though its time passed while they were down.
func TestDeadlineSetBeforeARestartFiresAfterIt(t *testing.T) {
	t.Parallel()
	_, run := restartable(t)
	srv := run()
	e := newEnvOn(t, srv)
	var met countMetrics
	m := start(t, e.nc, timerProcess(2*time.Second), Config{}, WithMetrics(&met))
	e.appendEvent(t, "timer", "t-1", "timer.started", nil)
	eventually(t, 20*time.Second, func() (bool, string) { return met.get("started") == 1, "not started" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	due := mustShow(t, e, m, "t-1").Deadlines[0].At
	e.nc.Close()
	natsserver.Stop(srv.Server)
	time.Sleep(time.Until(due.Add(time.Second)))

	e2 := newEnvOn(t, run())
	var met2 countMetrics
	m2 := start(t, e2.nc, timerProcess(2*time.Second), Config{}, WithMetrics(&met2))
	eventually(t, 20*time.Second, func() (bool, string) { return met2.get("fired") == 1, "the deadline did not fire after the restart" })
	if s := stateOf[timer](t, mustShow(t, e2, m2, "t-1")); !s.Rang {
		t.Errorf("state %+v", s)
	}
}

// A handler that panics parks its event in the dead-letter queue and
// leaves the instance as it was.
func TestHandlerPanicParksTheEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var met countMetrics
	m := start(t, e.nc, timerProcess(time.Hour), Config{MaxRetries: 1, Backoff: []time.Duration{50 * time.Millisecond}}, WithMetrics(&met))
	e.appendEvent(t, "timer", "t-1", "timer.started", nil)
	eventually(t, 20*time.Second, func() (bool, string) { return met.get("started") == 1, "not started" })
	before := mustShow(t, e, m, "t-1")
	boom := e.appendTo(t, "timer", "t-1", "timer.boom", nil)
	dlq := consumers.NewDLQ(e.js, consumers.DefaultDLQConfig())
	var letters []consumers.DeadLetter
	eventually(t, 20*time.Second, func() (bool, string) {
		var err error
		letters, err = dlq.List(testCtx(t), consumers.ListOptions{Subscription: ConsumerPrefix + "timer"})
		return err == nil && len(letters) == 1, fmt.Sprintf("dead letters %+v, %v", letters, err)
	})
	if dl := letters[0]; dl.StreamSeq != boom.Sequence || !strings.Contains(dl.Reason, "boom") || dl.Deliveries != 2 {
		t.Errorf("dead letter %+v", dl)
	}
	after := mustShow(t, e, m, "t-1")
	if after.Steps != before.Steps || !slices.Equal(after.State, before.State) || len(after.Handled) != len(before.Handled) || after.UpdatedAt != before.UpdatedAt {
		t.Errorf("the instance changed: %+v → %+v", before, after)
	}
	if met.get("failed") != 2 {
		t.Errorf("failed attempts %d, want 2", met.get("failed"))
	}
}

// KeepEnded keeps an ended instance's record readable; the instance still
// skips late events.
func TestKeepEnded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serveLedger(t)
	var met countMetrics
	m := start(t, e.nc, orderProcess(), Config{KeepEnded: time.Hour}, WithMetrics(&met))
	e.appendEvent(t, "order", "o-1", "order.placed", nil)
	// Paid once the process asked for it, as a payment comes: the two
	// events could otherwise be handled in either order.
	eventually(t, 20*time.Second, func() (bool, string) { return met.get("started") == 1, "not started" })
	e.appendEvent(t, "payment", "pay-1", "payment.received", map[string]string{"order_id": "o-1"})
	eventually(t, 20*time.Second, func() (bool, string) { return met.get("ended") == 1, "not ended" })
	r := mustShow(t, e, m, "o-1")
	if r.Status != StatusEnded || r.Removed || r.EndedAt == nil || !stateOf[order](t, r).Paid {
		t.Errorf("kept record %+v", r)
	}
	sum, err := Summarize(testCtx(t), e.js, "payment", m.Config().Bucket)
	if err != nil || sum.Ended != 1 || sum.Running != 0 {
		t.Errorf("summary %+v %v", sum, err)
	}
	if st, err := e.js.Stream(testCtx(t), "KV_"+m.Config().Bucket); err != nil || st.CachedInfo().State.Consumers != 0 {
		t.Errorf("consumers left on the bucket after counting: %v", err)
	}
	if _, err := Show(testCtx(t), e.js, m.Config().Bucket, "o-9"); !errors.Is(err, ErrInstanceNotFound) {
		t.Errorf("show of nothing: %v", err)
	}
	if _, err := Summarize(testCtx(t), e.js, "nope", "proc_nope"); !errors.Is(err, ErrProcessNotFound) {
		t.Errorf("summary of nothing: %v", err)
	}
	if b, err := Buckets(testCtx(t), e.js); err != nil || !slices.Equal(b, []string{"proc_payment"}) {
		t.Errorf("buckets %v %v", b, err)
	}
}

// A redelivery long after the step was written (past an ack wait, as when
// the process that wrote it died) still sends the step's command, with its
// id.
func TestRedeliveryLongAfterTheWriteStillSends(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serveLedger(t)
	f := serveFlaky(t, e.nc)
	var now atomic.Pointer[time.Time]
	began := time.Now()
	now.Store(&began)
	clock := func() time.Time { return *now.Load() }
	var met countMetrics
	cfg := Config{CommandPrefix: "flaky", CommandTimeout: 300 * time.Millisecond, Backoff: []time.Duration{time.Second}}
	start(t, e.nc, orderProcess(), cfg, WithMetrics(&met), WithClock(clock))
	placed := e.appendEvent(t, "order", "o-1", "order.placed", nil)
	cmdID := CommandID("payment", "o-1", placed.ID, 0)
	eventually(t, 20*time.Second, func() (bool, string) { return f.count(cmdID) == 1, "command not sent" })
	later := began.Add(time.Hour)
	now.Store(&later)
	eventually(t, 20*time.Second, func() (bool, string) {
		return f.count(cmdID) == 2 && met.get("skipped_"+ReasonDuplicate) == 1,
			fmt.Sprintf("command sent %d times, %d duplicates", f.count(cmdID), met.get("skipped_"+ReasonDuplicate))
	})
	if n := e.ledgerNotes(t, "pay-o-1"); len(n) != 1 {
		t.Fatalf("ledger pay-o-1 %v", n)
	}
}
