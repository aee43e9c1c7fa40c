package consumers

import (
	"context"
	"sync"
	"testing"
	"time"
)

// The test clock (WithClock, for expiry) must not drive the keep-alive of
// held messages: with a frozen one, a message held behind a long handler
// must still get its progress acks and be handled once.
func TestHeldMessagesKeptAliveWhateverTheTestClock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		clock func() time.Time
	}{
		{"wall clock", time.Now},
		{"frozen clock", func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			e.topic(t, "jobs")
			var mu sync.Mutex
			calls := map[string]int{}
			slowStarted := make(chan struct{})
			e.startWorker(t, Subscription{Name: "runner", Topic: "jobs", AckWait: time.Second, Concurrency: 1,
				Handler: func(_ context.Context, m *Message) error {
					mu.Lock()
					calls[m.ID()]++
					mu.Unlock()
					if m.ID() == "slow" {
						close(slowStarted)
						time.Sleep(3 * time.Second) // kept alive as in-flight
					}
					return nil
				}}, WithClock(tc.clock))
			e.publish(t, "jobs", Outgoing{Data: []byte(`{}`), MsgID: "slow", Priority: PriorityNormal})
			<-slowStarted
			// Held by the gate: the only slot is busy.
			e.publish(t, "jobs", Outgoing{Data: []byte(`{}`), MsgID: "waiting", Priority: PriorityCritical})
			waitFor(t, 10*time.Second, "both handled", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return calls["slow"] >= 1 && calls["waiting"] >= 1
			})
			time.Sleep(1500 * time.Millisecond) // any redelivery arrives by now
			mu.Lock()
			defer mu.Unlock()
			for id, n := range calls {
				if n != 1 {
					t.Errorf("message %s handled %d times, want once", id, n)
				}
			}
		})
	}
}

// A message buffered behind a short handler, then held by the gate for
// about two watchdog ticks, then taken by a runner just before a tick: the
// server must hear of it at least once per tick all along, so it is never
// redelivered while its handler runs.
func TestMessageHeldThenRunIsNeverRedelivered(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "jobs")
	const ackWait = time.Second
	tick := ackWait / 3
	var mu sync.Mutex
	calls := map[string]int{}
	var t0 time.Time // ~ when the watchdog's ticker started
	var n2Taken time.Time
	sleepUntil := func(at time.Time) { time.Sleep(time.Until(at)) }
	pass := func(k int) time.Time { return t0.Add(time.Duration(k) * tick) }
	n1Started := make(chan struct{})
	w, err := NewWorker(e.js, Subscription{Name: "runner", Topic: "jobs", AckWait: ackWait, Concurrency: 1, BatchSize: 2,
		Handler: func(_ context.Context, m *Message) error {
			mu.Lock()
			calls[m.ID()]++
			mu.Unlock()
			switch m.ID() {
			case "n1": // 150 ms, inline on the normal loop; n2 is buffered behind it
				close(n1Started)
				sleepUntil(pass(3).Add(40 * time.Millisecond))
			case "c": // taken by the runner when n1 ends; n2 is held meanwhile
				sleepUntil(pass(5).Add(-60 * time.Millisecond))
			case "n2":
				mu.Lock()
				if n2Taken.IsZero() {
					n2Taken = time.Now()
				}
				mu.Unlock()
				time.Sleep(1500 * time.Millisecond)
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	})
	sleepUntil(pass(3).Add(40*time.Millisecond - 150*time.Millisecond))
	if _, err := e.pub.PublishBatch(testCtx(t), "jobs", []Outgoing{
		{Data: []byte(`{}`), MsgID: "n1"}, {Data: []byte(`{}`), MsgID: "n2"}}); err != nil {
		t.Fatal(err)
	}
	<-n1Started
	e.publish(t, "jobs", Outgoing{Data: []byte(`{}`), MsgID: "c", Priority: PriorityCritical})
	waitFor(t, 10*time.Second, "everything handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls["n1"] == 1 && calls["c"] == 1 && calls["n2"] >= 1
	})
	time.Sleep(2500 * time.Millisecond) // a redelivery is handled by now
	mu.Lock()
	defer mu.Unlock()
	t.Logf("n2 taken by the runner %v before the tick that would have kept it alive as held", pass(5).Sub(n2Taken))
	for id, n := range calls {
		if n != 1 {
			t.Errorf("message %s handled %d times, want once (stats %+v)", id, n, w.Stats())
		}
	}
}

// A claim expires in real time whatever the test clock: c1's delivery says
// one more critical message is pending (c2), so its release claims the next
// slot for critical for 50 ms while l1 is held; c2 is deleted and never
// arrives, and l1 must still run and a graceful Stop finish.
func TestClaimsExpireWhateverTheTestClock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		clock func() time.Time
	}{
		{"wall clock", time.Now},
		{"frozen clock", func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			e.topic(t, "jobs")
			e.publish(t, "jobs", Outgoing{Data: []byte(`{}`), MsgID: "c1", Priority: PriorityCritical})
			c2 := e.publish(t, "jobs", Outgoing{Data: []byte(`{}`), MsgID: "c2", Priority: PriorityCritical})
			e.publish(t, "jobs", Outgoing{Data: []byte(`{}`), MsgID: "l1", Priority: PriorityLow})
			rec := newRecorder(func(ctx context.Context, m *Message) error {
				if m.ID() == "c1" {
					s, err := e.js.Stream(ctx, "TOPIC_JOBS")
					if err == nil {
						err = s.DeleteMsg(ctx, c2.Sequence)
					}
					if err != nil {
						t.Errorf("delete c2: %v", err)
					}
				}
				return nil
			})
			w, err := NewWorker(e.js, Subscription{Name: "runner", Topic: "jobs", Concurrency: 1, BatchSize: 1, Handler: rec.handle}, WithClock(tc.clock))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for rec.distinct() < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			stopErr := w.Stop(ctx)
			if rec.distinct() != 2 {
				t.Errorf("handled %d distinct messages in 5s, want c1 and l1", rec.distinct())
			}
			if stopErr != nil {
				t.Errorf("graceful stop: %v (stats %+v)", stopErr, w.Stats())
			}
		})
	}
}
