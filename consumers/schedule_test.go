package consumers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/wire"
)

// collect starts a worker on topic that records every handled message.
func collect(t *testing.T, e *testEnv, topic, name string, opts ...WorkerOption) (*Worker, chan *Message) {
	t.Helper()
	got := make(chan *Message, 1000)
	w := e.startWorker(t, Subscription{Name: name, Topic: topic, Concurrency: 8, Handler: func(_ context.Context, m *Message) error {
		got <- m
		return nil
	}}, opts...)
	return w, got
}

func TestPublishAtDeliversAtItsTime(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "reminders")
	at := time.Now().Add(1500 * time.Millisecond)
	s, err := e.pub.PublishAt(testCtx(t), "reminders", at, Outgoing{
		Key: "order.remind", Data: []byte(`{"id":"o-1"}`), Priority: PriorityHigh, MsgID: "remind-o-1",
		CorrelationID: "corr-1", TTL: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := at.Truncate(time.Second).Add(time.Second).UTC()
	if s.ID != "remind-o-1" || !s.At.Equal(want) || s.Priority != PriorityHigh || s.Key != "order.remind" {
		t.Errorf("scheduled %+v, want id remind-o-1 at %s (rounded up)", s, want)
	}
	listed, err := ListScheduled(testCtx(t), e.js, "reminders")
	if err != nil || len(listed) != 1 || listed[0].ID != "remind-o-1" || listed[0].Sequence != s.Sequence ||
		string(listed[0].Data) != `{"id":"o-1"}` || listed[0].Key != "order.remind" {
		t.Fatalf("listed %+v, %v", listed, err)
	}
	if one, err := ScheduledMessage(testCtx(t), e.js, "reminders", "remind-o-1"); err != nil || !one.At.Equal(want) {
		t.Fatalf("scheduled message: %+v, %v", one, err)
	}
	// The listing's reader is gone once it returned.
	if st, err := e.js.Stream(testCtx(t), "TOPIC_REMINDERS"); err != nil || st.CachedInfo().State.Consumers != 0 {
		t.Fatalf("consumers left on the topic after listing: %v", err)
	}
	_, got := collect(t, e, "reminders", "r")
	select {
	case m := <-got:
		if now := time.Now(); now.Before(want) {
			t.Errorf("handled at %s, before %s", now, want)
		}
		if m.Subject() != "topic.reminders.high.order.remind" || m.ScheduleID() != "remind-o-1" || m.CorrelationID() != "corr-1" ||
			m.Priority() != PriorityHigh || m.Key() != "order.remind" || m.ID() != "" {
			t.Errorf("delivered %s, schedule id %q, correlation %q, msg id %q", m.Subject(), m.ScheduleID(), m.CorrelationID(), m.ID())
		}
		if exp := m.Header().Get(wire.HeaderExpiresAt); exp != want.Add(time.Minute).Format(expiresAtLayout) {
			t.Errorf("expires at %q: the TTL counts from the scheduled time", exp)
		}
		if m.Header().Get(wire.HeaderScheduledAt) != want.Format(time.RFC3339) {
			t.Errorf("scheduled-at %q", m.Header().Get(wire.HeaderScheduledAt))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("not delivered")
	}
	if err := CancelScheduled(testCtx(t), e.js, "reminders", "remind-o-1"); !errors.Is(err, ErrNotScheduled) {
		t.Errorf("cancel after delivery: %v, want ErrNotScheduled", err)
	}
	if left, err := ListScheduled(testCtx(t), e.js, "reminders"); err != nil || len(left) != 0 {
		t.Errorf("after delivery: %+v, %v", left, err)
	}
}

func TestScheduleReplaceAndCancel(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "later")
	at := time.Now().Add(2 * time.Second)
	for _, body := range []string{"first", "second"} {
		if _, err := e.pub.PublishAt(testCtx(t), "later", at, Outgoing{Data: []byte(body), MsgID: "same"}); err != nil {
			t.Fatal(err)
		}
	}
	gone, err := e.pub.PublishAfter(testCtx(t), "later", 2*time.Second, Outgoing{Data: []byte("cancelled")})
	if err != nil {
		t.Fatal(err)
	}
	listed, err := ListScheduled(testCtx(t), e.js, "later")
	if err != nil || len(listed) != 2 {
		t.Fatalf("listed %+v, %v: want the replaced schedule once and the other", listed, err)
	}
	if err := CancelScheduled(testCtx(t), e.js, "later", gone.ID); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if err := CancelScheduled(testCtx(t), e.js, "later", gone.ID); !errors.Is(err, ErrNotScheduled) {
		t.Errorf("second cancel: %v", err)
	}
	if _, err := ScheduledMessage(testCtx(t), e.js, "later", gone.ID); !errors.Is(err, ErrNotScheduled) {
		t.Errorf("cancelled schedule still found: %v", err)
	}
	w, got := collect(t, e, "later", "l")
	select {
	case m := <-got:
		if string(m.Data()) != "second" {
			t.Errorf("delivered %q, want the replacing schedule", m.Data())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("not delivered")
	}
	time.Sleep(1500 * time.Millisecond)
	select {
	case m := <-got:
		t.Errorf("also delivered %q", m.Data())
	default:
	}
	if s := w.Stats(); s.Acked != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestScheduleRefusals(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "t")
	ctx := testCtx(t)
	for name, err := range map[string]error{
		"wildcard id": func() error {
			_, err := e.pub.PublishAt(ctx, "t", time.Now(), Outgoing{MsgID: "a.*"})
			return err
		}(),
		"no time": func() error { _, err := e.pub.PublishAt(ctx, "t", time.Time{}, Outgoing{}); return err }(),
		"negative delay": func() error {
			_, err := e.pub.PublishAfter(ctx, "t", -time.Second, Outgoing{})
			return err
		}(),
	} {
		if !errors.Is(err, ErrInvalidSchedule) {
			t.Errorf("%s: %v, want ErrInvalidSchedule", name, err)
		}
	}
	if _, err := e.pub.PublishAt(ctx, "t", time.Now(), Outgoing{TTL: time.Millisecond}); !errors.Is(err, ErrInvalidTTL) {
		t.Errorf("ttl: %v", err)
	}
	if _, err := e.pub.PublishAt(ctx, "nope", time.Now(), Outgoing{}); !errors.Is(err, ErrTopicNotFound) {
		t.Errorf("unknown topic: %v", err)
	}
	if err := CancelScheduled(ctx, e.js, "nope", "x"); !errors.Is(err, ErrTopicNotFound) {
		t.Errorf("cancel on an unknown topic: %v", err)
	}
	if err := CancelScheduled(ctx, e.js, "t", "never"); !errors.Is(err, ErrNotScheduled) {
		t.Errorf("cancel of nothing: %v", err)
	}
}

// The server may fire a schedule at the very moment its cancellation is
// stored and store the copy anyway (it takes the schedule out of its timer
// first and does not look again). Forged here: the copy of a cancelled
// schedule, stored after its cancellation, is acked unhandled; a copy of
// another schedule of the same id is handled.
func TestWorkerSkipsACopyOfACancelledSchedule(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "race")
	s, err := e.pub.PublishAfter(testCtx(t), "race", time.Hour, Outgoing{Key: "k", Data: []byte("x"), MsgID: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := CancelScheduled(testCtx(t), e.js, "race", "r-1"); err != nil {
		t.Fatal(err)
	}
	forge := func(token, body string) {
		m := nats.NewMsg("topic.race.normal.k")
		m.Data = []byte(body)
		// What the server's copy carries: clients may set Nats-Scheduler
		// only with Nats-Schedule-Next: purge.
		m.Header.Set(hdrScheduler, ScheduleSubject("race", "r-1"))
		m.Header.Set(hdrScheduleNext, "purge")
		m.Header.Set(wire.HeaderScheduleID, "r-1")
		m.Header.Set(wire.HeaderScheduleToken, token)
		if _, err := e.js.PublishMsg(testCtx(t), m); err != nil {
			t.Fatal(err)
		}
	}
	forge(s.Header.Get(wire.HeaderScheduleToken), "cancelled copy")
	forge("another-token", "live copy")
	w, got := collect(t, e, "race", "w")
	select {
	case m := <-got:
		if string(m.Data()) != "live copy" {
			t.Fatalf("handled %q", m.Data())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("nothing handled")
	}
	deadline := time.Now().Add(10 * time.Second)
	for w.Stats().Acked+uint64(len(got)) < 1 || statCancelled(w) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", w.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case m := <-got:
		t.Errorf("also handled %q", m.Data())
	default:
	}
}

func statCancelled(w *Worker) uint64 { return w.stats.cancelled.Load() }

// The guarantee under a race: schedules all due in the same second,
// cancelled concurrently around that second. Every cancel that returned
// nil names a message no handler ever saw; every one that returned
// ErrNotScheduled names one that was handled.
func TestCancelledScheduleIsNeverHandled(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "hammer")
	const n = 150
	due := time.Now().Add(2 * time.Second).Truncate(time.Second).Add(time.Second)
	for i := range n {
		if _, err := e.pub.PublishAt(testCtx(t), "hammer", due, Outgoing{Data: []byte(strconv.Itoa(i)), MsgID: fmt.Sprintf("h-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	handled := map[string]int{}
	w := e.startWorker(t, Subscription{Name: "h", Topic: "hammer", Concurrency: 16, Handler: func(_ context.Context, m *Message) error {
		mu.Lock()
		handled[m.ScheduleID()]++
		mu.Unlock()
		return nil
	}})
	cancelled := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Spread over the second before and after the due time.
			time.Sleep(time.Until(due.Add(time.Duration(rand.IntN(1200)-700) * time.Millisecond)))
			err := CancelScheduled(testCtx(t), e.js, "hammer", fmt.Sprintf("h-%d", i))
			switch {
			case err == nil:
				cancelled[i] = true
			case !errors.Is(err, ErrNotScheduled):
				t.Errorf("cancel %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	time.Sleep(3 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	nCancelled := 0
	for i := range n {
		id := fmt.Sprintf("h-%d", i)
		switch {
		case cancelled[i] && handled[id] > 0:
			t.Errorf("%s: cancelled, and handled %d times", id, handled[id])
		case !cancelled[i] && handled[id] == 0:
			t.Errorf("%s: not cancelled (delivered before), but never handled", id)
		}
		if cancelled[i] {
			nCancelled++
		}
	}
	// Copies the server fired as they were cancelled, skipped by the worker.
	t.Logf("%d of %d cancelled in time; %d fired copies of cancelled schedules skipped", nCancelled, n, w.Stats().Cancelled)
}

// A topic created before scheduling existed gets it when provisioned again.
func TestEnsureTopicTurnsSchedulesOn(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	old := TopicConfig{Name: "old"}.StreamConfig()
	old.AllowMsgSchedules, old.AllowRollup = false, false
	if _, err := e.js.CreateStream(testCtx(t), old); err != nil {
		t.Fatal(err)
	}
	st, err := EnsureTopic(testCtx(t), e.js, TopicConfig{Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := st.CachedInfo().Config; !cfg.AllowMsgSchedules || !cfg.AllowRollup {
		t.Fatalf("after EnsureTopic: schedules %v, rollup %v", cfg.AllowMsgSchedules, cfg.AllowRollup)
	}
	if _, err := e.pub.PublishAfter(testCtx(t), "old", time.Hour, Outgoing{}); err != nil {
		t.Fatal(err)
	}
	var _ jetstream.Stream = st
}

// A topic's schedules are read back from its stream, where anyone who may
// publish to the topic can store a message: scheduledOf never panics, and
// accepts only an @at schedule on the topic's schedule subjects.
func FuzzScheduledOf(f *testing.F) {
	f.Add("topic.t._schedule.r-1", "@at 2026-12-24T18:00:00Z", "topic.t.high.order.remind")
	f.Add("topic.t._schedule.a.b", "@every 1m", "topic.t.normal._")
	f.Add("topic.t.normal.x", "@at 2026-12-24T18:00:00Z", "topic.t.normal.x")
	f.Add("topic.t._schedule.", "@at nope", "")
	f.Add("topic.t._schedule.z", "@at 2026-12-24T18:00:00+02:00", "topic.other.low.k")
	f.Fuzz(func(t *testing.T, subject, pattern, target string) {
		h := nats.Header{hdrSchedule: {pattern}, hdrScheduleTarget: {target}}
		s, ok := scheduledOf("t", subject, 7, h, []byte("x"))
		if !ok {
			return
		}
		if !strings.HasPrefix(pattern, "@at ") || !strings.HasPrefix(subject, "topic.t._schedule.") || s.ID == "" {
			t.Fatalf("accepted %q %q as %+v", subject, pattern, s)
		}
		if s.At.Location() != time.UTC || s.Sequence != 7 || !s.Priority.Valid() {
			t.Fatalf("scheduled %+v", s)
		}
	})
}
