package consumers

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
)

// storedFilters returns the filter of each priority level of a topic
// subscription as the server stores it.
func storedFilters(t *testing.T, js jetstream.JetStream, topic, durable string) []string {
	t.Helper()
	var out []string
	for _, suf := range levelSuffix {
		c, err := js.Consumer(testCtx(t), TopicStream(topic), durable+suf)
		if err != nil {
			t.Fatalf("consumer %s%s: %v", durable, suf, err)
		}
		out = append(out, strings.Join(filtersOf(c.CachedInfo().Config), ","))
	}
	return out
}

// A worker whose subscription differs from the stored one is refused with
// the differences, and the running subscription keeps its filter and its
// messages (it used to be rewritten silently and a message published
// meanwhile was lost).
func TestSubscriptionChangeIsRefused(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	rec := newRecorder(nil)
	orig := Subscription{Name: "billing", Topic: "orders", Subjects: []string{"order.*"}, Handler: rec.handle}
	e.startWorker(t, orig)
	want := storedFilters(t, e.js, "orders", "billing")

	for _, tc := range []struct {
		name   string
		change func(*Subscription)
		diff   string
	}{
		{"filter", func(s *Subscription) { s.Subjects = []string{"zzz.*"} }, `filter: stored "order.*", asked "zzz.*"`},
		{"two filters", func(s *Subscription) { s.Subjects = []string{"order.*", "zzz.*"} }, `filter: stored "order.*", asked "order.*", "zzz.*"`},
		{"every subject", func(s *Subscription) { s.Subjects = nil }, `filter: stored "order.*", asked ">"`},
		{"retries", func(s *Subscription) { s.MaxRetries = 5 }, `max_deliver: stored 9, asked 11`},
		{"ack wait", func(s *Subscription) { s.AckWait = time.Minute }, `ack_wait: stored 30s, asked 1m0s`},
		{"max ack pending", func(s *Subscription) { s.MaxAckPending = 5000 }, `max_ack_pending: stored 1000, asked 5000`},
	} {
		changed := orig
		changed.Handler = newRecorder(nil).handle
		tc.change(&changed)
		w, err := NewWorker(e.js, changed)
		if err != nil {
			t.Fatalf("%s: new worker: %v", tc.name, err)
		}
		err = w.Start(testCtx(t))
		if err == nil {
			_ = w.Stop(testCtx(t))
			t.Fatalf("%s: a changed subscription was accepted", tc.name)
		}
		var mm *SubscriptionMismatchError
		if !errors.Is(err, ErrSubscriptionChanged) || !errors.As(err, &mm) {
			t.Fatalf("%s: error %v: want a *SubscriptionMismatchError matching ErrSubscriptionChanged", tc.name, err)
		}
		if len(mm.Diffs) != 1 || mm.Diffs[0].String() != tc.diff || !strings.Contains(err.Error(), tc.diff) || len(mm.Consumers) != numLevels {
			t.Errorf("%s: error %q, diffs %v, consumers %v: want the one difference %s on the %d levels", tc.name, err, mm.Diffs, mm.Consumers, tc.diff, numLevels)
		}
		// EnsureSubscription refuses the same way.
		if err := EnsureSubscription(testCtx(t), e.js, changed); !errors.Is(err, ErrSubscriptionChanged) {
			t.Errorf("%s: EnsureSubscription: %v, want ErrSubscriptionChanged", tc.name, err)
		}
	}
	if got := storedFilters(t, e.js, "orders", "billing"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("stored filters changed: %v, want %v", got, want)
	}
	e.publish(t, "orders", Outgoing{Key: "order.created", Data: []byte(`{}`), MsgID: "after-refusal"})
	waitFor(t, 10*time.Second, "the original worker to get the message", func() bool { return rec.distinct() == 1 })
}

// With WithSubscriptionUpdate a changed definition is applied, and the log
// says what changed and where the consumer stands; while another worker is
// attached the update is refused.
func TestSubscriptionUpdateWhenAllowed(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	orig := Subscription{Name: "billing", Topic: "orders", Subjects: []string{"order.*"}}
	first := newRecorder(nil)
	orig.Handler = first.handle
	running := e.startWorker(t, orig)
	e.publish(t, "orders", Outgoing{Key: "order.created", Data: []byte(`{}`), MsgID: "m1"})
	waitFor(t, 10*time.Second, "the first message", func() bool { return first.distinct() == 1 })

	second := newRecorder(nil)
	changed := Subscription{Name: "billing", Topic: "orders", Subjects: []string{"zzz.*"}, Handler: second.handle}
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Attached: refused, nothing changed.
	w, err := NewWorker(e.js, changed, WithSubscriptionUpdate(), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	err = w.Start(testCtx(t))
	if !errors.Is(err, ErrSubscriptionInUse) || !errors.Is(err, ErrSubscriptionChanged) {
		t.Fatalf("update while a worker runs: %v, want ErrSubscriptionInUse with the mismatch", err)
	}
	if got := storedFilters(t, e.js, "orders", "billing")[2]; got != "topic.orders.normal.order.*" {
		t.Fatalf("refused update changed the filter to %s", got)
	}
	if err := running.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	w = e.startWorker(t, changed, WithSubscriptionUpdate(), WithLogger(logger))
	for _, f := range storedFilters(t, e.js, "orders", "billing") {
		if !strings.HasSuffix(f, ".zzz.*") {
			t.Fatalf("filter not updated: %s", f)
		}
	}
	out := logs.String()
	for _, want := range []string{"level=WARN", "subscription filter changed", `filter: stored \"order.*\", asked \"zzz.*\"`,
		"consumer=billing-normal", "delivered_stream_seq=1", "stay skipped", "subscription=billing"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	e.publish(t, "orders", Outgoing{Key: "zzz.created", Data: []byte(`{}`), MsgID: "m2"})
	waitFor(t, 10*time.Second, "the updated worker to get its message", func() bool { return second.distinct() == 1 })
	if got := w.Stats(); got.Acked != 1 {
		t.Errorf("updated worker stats %+v", got)
	}
}

// The same definition started twice (a second instance of a worker) and
// again after the server restarted is accepted: what the server fills in
// or keeps on disk never reads as a change.
func TestSameSubscriptionTwiceAndAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := natstest.RunServerWithConfig(t, natsserver.Config{StoreDir: dir})
	nc, js := srv.JetStream(t)
	ctx := testCtx(t)
	if _, err := EnsureTopic(ctx, js, TopicConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SHOP", Subjects: []string{"shop.>"}}); err != nil {
		t.Fatal(err)
	}
	subs := []Subscription{
		{Name: "all", Topic: "orders"},
		{Name: "billing", Topic: "orders", Subjects: []string{"order.*"}, MaxRetries: NoRetries, AckWait: 5 * time.Second},
		{Name: "several", Topic: "orders", Subjects: []string{"order.*", "refund.>"}, MaxAckPending: 2000, StartAt: StartNew},
		{Name: "fan", Topic: "orders", Mode: ModePubSub, Instance: "a", InactiveThreshold: time.Hour},
		{Name: "stream", Stream: "SHOP"},
		{Name: "one", Stream: "SHOP", Subjects: []string{"shop.created"}},
		{Name: "two", Stream: "SHOP", Subjects: []string{"shop.created", "shop.paid"}},
	}
	start := func(js jetstream.JetStream) []*Worker {
		var ws []*Worker
		for range 2 {
			for _, s := range subs {
				s.Handler = func(context.Context, *Message) error { return nil }
				w, err := NewWorker(js, s, WithoutDLQ())
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Start(testCtx(t)); err != nil {
					t.Fatalf("start %s: %v", s.Name, err)
				}
				ws = append(ws, w)
			}
		}
		return ws
	}
	stop := func(ws []*Worker) {
		for _, w := range ws {
			if err := w.Stop(testCtx(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop(start(js))
	nc.Close()
	natsserver.Stop(srv.Server)

	srv = natstest.RunServerWithConfig(t, natsserver.Config{StoreDir: dir})
	_, js = srv.JetStream(t)
	stop(start(js))
	for _, s := range subs {
		if err := EnsureSubscription(testCtx(t), js, s); err != nil {
			t.Errorf("ensure %s after restart: %v", s.Name, err)
		}
	}
}
