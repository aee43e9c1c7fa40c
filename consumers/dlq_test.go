package consumers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/wire"
)

// flaky fails permanently until healthy is set.
func flaky(healthy *atomic.Bool) func(context.Context, *Message) error {
	return func(context.Context, *Message) error {
		if healthy.Load() {
			return nil
		}
		return Permanent(errors.New("downstream rejected the order"))
	}
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	st, err := js.Stream(testCtx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.Msgs
}

func TestReplayToHealthyHandlerAndDryRun(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	var healthy atomic.Bool
	rec := newRecorder(flaky(&healthy))
	w := e.startWorker(t, Subscription{Name: "billing", Topic: "orders", Handler: rec.handle})
	e.publish(t, "orders", Outgoing{Key: "created", Data: []byte(`{"id":7}`), MsgID: "order-7",
		Priority: PriorityHigh, CorrelationID: "corr-7", Header: nats.Header{"X-Tenant": {"acme"}}})
	dlq := NewDLQ(e.js, DLQConfig{})
	dl := deadLetters(t, dlq, ListOptions{}, 1)[0]

	// A dry run reports the plan and changes nothing.
	topicBefore, dlqBefore := streamMsgs(t, e.js, "TOPIC_ORDERS"), streamMsgs(t, e.js, "DLQ")
	r, err := dlq.Replay(testCtx(t), dl.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.DryRun || r.Subject != "topic.orders.high.created" || r.Subscription != "billing" || r.Sequence != 0 {
		t.Fatalf("dry run %+v", r)
	}
	if streamMsgs(t, e.js, "TOPIC_ORDERS") != topicBefore || streamMsgs(t, e.js, "DLQ") != dlqBefore {
		t.Fatal("dry run changed a stream")
	}
	if _, err := dlq.Get(testCtx(t), dl.ID); err != nil {
		t.Fatalf("dry run removed the dead letter: %v", err)
	}

	healthy.Store(true)
	r, err = dlq.Replay(testCtx(t), dl.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.DryRun || r.Sequence == 0 || r.Duplicate {
		t.Fatalf("replay %+v", r)
	}
	waitFor(t, 5*time.Second, "the replay to be handled", func() bool { return w.Stats().Acked == 1 })
	seen := rec.snapshot()
	if len(seen) != 2 {
		t.Fatalf("handled %d times, want 2 (the failure and the replay)", len(seen))
	}
	replayed := seen[1]
	if replayed.header.Get(wire.HeaderReplayedFrom) != strconv.FormatUint(dl.ID, 10) || replayed.header.Get(wire.HeaderCorrelationID) != "corr-7" ||
		replayed.header.Get("X-Tenant") != "acme" || string(replayed.data) != `{"id":7}` || replayed.subject != "topic.orders.high.created" {
		t.Fatalf("replayed message %+v", replayed)
	}
	// Once: the consumer has nothing pending or unacknowledged.
	info, err := e.js.Consumer(testCtx(t), "TOPIC_ORDERS", "billing-high")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := info.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumPending != 0 || ci.NumAckPending != 0 || ci.NumRedelivered != 0 {
		t.Fatalf("consumer after replay: pending %d, ack pending %d, redelivered %d", ci.NumPending, ci.NumAckPending, ci.NumRedelivered)
	}
	if left, err := dlq.List(testCtx(t), ListOptions{}); err != nil || len(left) != 0 {
		t.Fatalf("the replayed dead letter should be gone: %v %v", left, err)
	}
	if _, err := dlq.Replay(testCtx(t), dl.ID, false); !errors.Is(err, ErrDeadLetterNotFound) {
		t.Fatalf("second replay: %v", err)
	}
}

func TestReplayedMessageFailingAgainIsDeadLetteredAgain(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	var healthy atomic.Bool
	e.startWorker(t, Subscription{Name: "billing", Topic: "orders", Handler: flaky(&healthy)})
	e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	dlq := NewDLQ(e.js, DLQConfig{})
	first := deadLetters(t, dlq, ListOptions{}, 1)[0]
	if _, err := dlq.Replay(testCtx(t), first.ID, false); err != nil {
		t.Fatal(err)
	}
	second := deadLetters(t, dlq, ListOptions{}, 1)[0]
	if second.ID == first.ID || second.Original == nil || second.Original.Header.Get(wire.HeaderReplayedFrom) != strconv.FormatUint(first.ID, 10) {
		t.Fatalf("second dead letter %+v", second)
	}
}

func TestReplayAllGoesOnlyToTheFailedSubscription(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	e.topic(t, "audit")
	var healthy atomic.Bool
	failing := newRecorder(flaky(&healthy))
	okRec := newRecorder(nil)
	fw := e.startWorker(t, Subscription{Name: "billing", Topic: "orders", Handler: failing.handle})
	ow := e.startWorker(t, Subscription{Name: "shipping", Topic: "orders", Handler: okRec.handle})
	e.startWorker(t, Subscription{Name: "auditor", Topic: "audit", Handler: flaky(&healthy)})
	for i := range 3 {
		e.publish(t, "orders", Outgoing{Data: []byte(`{}`), MsgID: "o" + strconv.Itoa(i)})
	}
	e.publish(t, "audit", Outgoing{Data: []byte(`{}`)})
	dlq := NewDLQ(e.js, DLQConfig{})
	deadLetters(t, dlq, ListOptions{}, 4)
	deadLetters(t, dlq, ListOptions{Topic: "orders"}, 3)
	deadLetters(t, dlq, ListOptions{Subscription: "auditor"}, 1)
	deadLetters(t, dlq, ListOptions{Topic: "orders", Subscription: "auditor"}, 0)
	if got, err := dlq.List(testCtx(t), ListOptions{Limit: 2}); err != nil || len(got) != 2 {
		t.Fatalf("limit 2: %d %v", len(got), err)
	}
	waitFor(t, 5*time.Second, "shipping to handle all", func() bool { return ow.Stats().Acked == 3 })

	dry, err := dlq.ReplayAll(testCtx(t), ListOptions{Topic: "orders", Limit: 2}, true)
	if err != nil || len(dry) != 2 || !dry[0].DryRun {
		t.Fatalf("dry run with limit: %+v %v", dry, err)
	}
	healthy.Store(true)
	done, err := dlq.ReplayAll(testCtx(t), ListOptions{Topic: "orders"}, false)
	if err != nil || len(done) != 3 {
		t.Fatalf("replay all: %+v %v", done, err)
	}
	for _, r := range done {
		if r.Skipped != "" || r.Subscription != "billing" || r.Topic != "orders" {
			t.Fatalf("replayed %+v", r)
		}
	}
	waitFor(t, 5*time.Second, "billing to handle the replays", func() bool { return fw.Stats().Acked == 3 })
	waitFor(t, 5*time.Second, "shipping to skip the replays", func() bool { return ow.Stats().Skipped == 3 })
	if okRec.len() != 3 {
		t.Fatalf("shipping handled %d messages, want its 3 originals only", okRec.len())
	}
	deadLetters(t, dlq, ListOptions{}, 1) // the audit letter stays
}

func TestDeadLetterWhoseOriginalIsGone(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	e.startWorker(t, Subscription{Name: "billing", Topic: "orders", Handler: flaky(new(atomic.Bool))})
	ack := e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	dlq := NewDLQ(e.js, DLQConfig{})
	dl := deadLetters(t, dlq, ListOptions{}, 1)[0]
	st, err := e.js.Stream(testCtx(t), "TOPIC_ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(testCtx(t), ack.Sequence); err != nil {
		t.Fatal(err)
	}
	got, err := dlq.Get(testCtx(t), dl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Original != nil || !strings.Contains(got.OriginalMissing, "no longer holds sequence "+strconv.FormatUint(ack.Sequence, 10)) {
		t.Fatalf("dead letter without original: %+v", got)
	}
	if _, err := dlq.Replay(testCtx(t), dl.ID, false); !errors.Is(err, ErrOriginalGone) {
		t.Fatalf("replay: %v", err)
	}
	all, err := dlq.ReplayAll(testCtx(t), ListOptions{}, false)
	if err != nil || len(all) != 1 || !strings.Contains(all[0].Skipped, "no longer") {
		t.Fatalf("replay all: %+v %v", all, err)
	}
	deadLetters(t, dlq, ListOptions{}, 1) // a skipped letter stays
}

// A replay is marked for the dead letter's subscription; when its consumer
// is gone nobody would handle it, so it is refused and the letter stays.
func TestReplayForAGoneSubscriptionIsRefused(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	w := e.startWorker(t, Subscription{Name: "billing", Topic: "orders", Handler: flaky(new(atomic.Bool))})
	e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	dlq := NewDLQ(e.js, DLQConfig{})
	dl := deadLetters(t, dlq, ListOptions{}, 1)[0]
	if err := w.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.js.DeleteConsumer(testCtx(t), "TOPIC_ORDERS", dl.Consumer); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		if _, err := dlq.Replay(testCtx(t), dl.ID, dry); !errors.Is(err, ErrSubscriptionGone) || !strings.Contains(err.Error(), dl.Consumer) {
			t.Fatalf("replay (dry run %v) for a deleted consumer: %v", dry, err)
		}
	}
	all, err := dlq.ReplayAll(testCtx(t), ListOptions{}, false)
	if err != nil || len(all) != 1 || !strings.Contains(all[0].Skipped, "no consumer") {
		t.Fatalf("replay all: %+v %v", all, err)
	}
	deadLetters(t, dlq, ListOptions{}, 1) // the letter stays
}

func TestDiscard(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	e.startWorker(t, Subscription{Name: "billing", Topic: "orders", Handler: flaky(new(atomic.Bool))})
	e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	dlq := NewDLQ(e.js, DLQConfig{})
	dl := deadLetters(t, dlq, ListOptions{}, 1)[0]
	if err := dlq.Discard(testCtx(t), dl.ID); err != nil {
		t.Fatal(err)
	}
	if left, err := dlq.List(testCtx(t), ListOptions{}); err != nil || len(left) != 0 {
		t.Fatalf("after discard: %v %v", left, err)
	}
	if err := dlq.Discard(testCtx(t), dl.ID); !errors.Is(err, ErrDeadLetterNotFound) {
		t.Fatalf("second discard: %v", err)
	}
	if _, err := dlq.Get(testCtx(t), 999); !errors.Is(err, ErrDeadLetterNotFound) {
		t.Fatalf("get unknown: %v", err)
	}
}

func TestNoDLQStream(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	if _, err := NewDLQ(e.js, DLQConfig{}).List(testCtx(t), ListOptions{}); !errors.Is(err, ErrNoDLQ) {
		t.Fatalf("list without a DLQ stream: %v", err)
	}
}

func TestMaxDeliveriesAdvisoryIsADeadLetter(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	if _, err := EnsureDLQ(testCtx(t), e.js, DLQConfig{}); err != nil {
		t.Fatal(err)
	}
	ack := e.publish(t, "orders", Outgoing{Data: []byte(`{"n":1}`)})
	// A consumer that never acks: the server gives up after MaxDeliver.
	cons, err := e.js.CreateOrUpdateConsumer(testCtx(t), "TOPIC_ORDERS", jetstream.ConsumerConfig{
		Durable: "hung", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 200 * time.Millisecond, MaxDeliver: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	dlq := NewDLQ(e.js, DLQConfig{})
	var dls []DeadLetter
	waitFor(t, 10*time.Second, "a max deliveries dead letter", func() bool {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for range batch.Messages() { // deliberately not acked
		}
		dls, err = dlq.List(testCtx(t), ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(dls) > 0
	})
	dl := dls[0]
	if dl.Kind != KindMaxDeliveries || dl.Consumer != "hung" || dl.Deliveries != 1 || dl.StreamSeq != ack.Sequence ||
		dl.Reason != "not acknowledged after 1 deliveries (max deliveries reached)" || dl.Original == nil {
		t.Fatalf("dead letter %+v", dl)
	}
}

func TestEventStreamSubscription(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	if _, err := e.js.CreateStream(testCtx(t), jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}}); err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"events.user.1", "events.order.1", "events.user.2"} {
		if _, err := e.js.Publish(testCtx(t), subj, []byte(`{"kind":"`+subj+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecorder(func(_ context.Context, m *Message) error {
		if m.Topic() != "" || m.Priority() != PriorityNormal || m.Key() != "" {
			return Permanent(errors.New("event messages have no topic, key or priority"))
		}
		if m.Subject() == "events.user.2" {
			return Permanent(errors.New("cannot project user 2"))
		}
		return nil
	})
	w := e.startWorker(t, Subscription{Name: "user-projector", Stream: "EVENTS", Subjects: []string{"events.user.>"}, Handler: rec.handle})
	waitFor(t, 5*time.Second, "both user events", func() bool { return rec.len() == 2 })
	dlq := NewDLQ(e.js, DLQConfig{})
	dl := deadLetters(t, dlq, ListOptions{}, 1)[0]
	if w.Stats().Acked != 1 || dl.Topic != "" || dl.Stream != "EVENTS" || dl.Subscription != "user-projector" ||
		dl.Original == nil || dl.Original.Subject != "events.user.2" {
		t.Fatalf("stats %+v, dead letter %+v", w.Stats(), dl)
	}
	// Events are history: a replay must never append to EVENTS.
	if _, err := dlq.Replay(testCtx(t), dl.ID, false); !errors.Is(err, ErrReplayUnsupported) {
		t.Fatalf("replay of an event: %v", err)
	}
	if n := streamMsgs(t, e.js, "EVENTS"); n != 3 {
		t.Fatalf("EVENTS holds %d messages", n)
	}
}

// List reads the DLQ through an ordered consumer it never deletes: every
// call leaves an ephemeral consumer on the DLQ stream for 5 minutes.
func TestListLeavesNoReaderBehind(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	e.startWorker(t, Subscription{Name: "billing", Topic: "orders", MaxRetries: NoRetries,
		Handler: func(context.Context, *Message) error { return Permanent(fmt.Errorf("no")) }})
	e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	dlq := NewDLQ(e.js, DLQConfig{})
	deadLetters(t, dlq, ListOptions{}, 1)
	for range 20 {
		if _, err := dlq.List(testCtx(t), ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := e.js.Stream(testCtx(t), "DLQ")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("after List returned, the DLQ stream has %d consumers left behind", info.State.Consumers)
	}
}

// A long DLQ is read page by page: Limit, then After the last id.
func TestListPages(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	e.startWorker(t, Subscription{Name: "billing", Topic: "orders", MaxRetries: NoRetries,
		Handler: func(context.Context, *Message) error { return Permanent(fmt.Errorf("no")) }})
	for range 3 {
		e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	}
	dlq := NewDLQ(e.js, DLQConfig{})
	all := deadLetters(t, dlq, ListOptions{}, 3)
	first, err := dlq.List(testCtx(t), ListOptions{Limit: 2})
	if err != nil || len(first) != 2 || first[0].ID != all[0].ID || first[1].ID != all[1].ID {
		t.Fatalf("first page: %v %v", first, err)
	}
	next, err := dlq.List(testCtx(t), ListOptions{Limit: 2, After: first[1].ID})
	if err != nil || len(next) != 1 || next[0].ID != all[2].ID {
		t.Fatalf("next page: %v %v", next, err)
	}
	if rest, err := dlq.List(testCtx(t), ListOptions{After: all[2].ID}); err != nil || len(rest) != 0 {
		t.Fatalf("after the last: %v %v", rest, err)
	}
}
