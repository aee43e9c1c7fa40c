package consumers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/wire"
)

func TestRetriesFollowBackoffThenDeadLetter(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	backoff := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	rec := newRecorder(func(context.Context, *Message) error { return errors.New("card declined: insufficient funds") })
	w := e.startWorker(t, Subscription{Name: "billing", Topic: "orders", MaxRetries: 3, Backoff: backoff, Handler: rec.handle})
	e.publish(t, "orders", Outgoing{Key: "order.created", Data: []byte(`{"id":1}`), MsgID: "m1", CorrelationID: "c1"})

	dlq := NewDLQ(e.js, DLQConfig{})
	dls := deadLetters(t, dlq, ListOptions{}, 1)
	// Terminated on the 4th delivery: the server cannot deliver it again.
	seen := rec.snapshot()
	if len(seen) != 4 {
		t.Fatalf("deliveries: got %d, want 4 (1 + max_retries 3)", len(seen))
	}
	for i, s := range seen {
		if s.attempt != i+1 {
			t.Errorf("delivery %d reports attempt %d", i+1, s.attempt)
		}
		if i == 0 {
			continue
		}
		gap, want := s.at.Sub(seen[i-1].at), backoff[i-1]
		if gap < want-20*time.Millisecond || gap > want+250*time.Millisecond {
			t.Errorf("retry %d came after %s, want %s (±tolerance)", i, gap, want)
		}
	}
	dl := dls[0]
	if dl.Kind != KindTerminated || dl.Reason != "card declined: insufficient funds" || dl.Deliveries != 4 ||
		dl.Topic != "orders" || dl.Stream != "TOPIC_ORDERS" || dl.Subscription != "billing" || dl.Consumer != "billing-normal" {
		t.Fatalf("dead letter %+v", dl)
	}
	if dl.Original == nil || dl.Original.Subject != "topic.orders.normal.order.created" || string(dl.Original.Data) != `{"id":1}` ||
		dl.Original.Header.Get(wire.HeaderCorrelationID) != "c1" || dl.Original.Header.Get("Nats-Stream") != "" || dl.OriginalMissing != "" {
		t.Fatalf("original %+v (%s)", dl.Original, dl.OriginalMissing)
	}
	if dl.Time.IsZero() || time.Since(dl.Time) > time.Minute {
		t.Errorf("dead letter time %s", dl.Time)
	}
	if s := w.Stats(); s.Retried != 3 || s.DeadLettered != 1 || s.Acked != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestPermanentErrorDeadLettersAfterOneDelivery(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	rec := newRecorder(func(context.Context, *Message) error {
		return Permanent(errors.New("invalid order: no items"))
	})
	e.startWorker(t, Subscription{Name: "billing", Topic: "orders", MaxRetries: 5, Backoff: []time.Duration{50 * time.Millisecond}, Handler: rec.handle})
	e.publish(t, "orders", Outgoing{Data: []byte(`{}`), MsgID: "m1"})
	dl := deadLetters(t, NewDLQ(e.js, DLQConfig{}), ListOptions{Topic: "orders"}, 1)[0]
	if n := rec.len(); n != 1 {
		t.Fatalf("deliveries: got %d, want 1", n)
	}
	if dl.Reason != "invalid order: no items" || dl.Deliveries != 1 {
		t.Fatalf("dead letter %+v", dl)
	}
}

func TestPanicIsRetriedThenDeadLettered(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	rec := newRecorder(func(context.Context, *Message) error { panic("nil map write") })
	w := e.startWorker(t, Subscription{Name: "billing", Topic: "orders", MaxRetries: 1,
		Backoff: []time.Duration{20 * time.Millisecond}, Handler: rec.handle, Middleware: []Middleware{Recover()}})
	e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	dl := deadLetters(t, NewDLQ(e.js, DLQConfig{}), ListOptions{}, 1)[0]
	if rec.len() != 2 || !strings.Contains(dl.Reason, "handler panicked: nil map write") {
		t.Fatalf("deliveries %d, dead letter %+v", rec.len(), dl)
	}
	if s := w.Stats(); s.Retried != 1 || s.DeadLettered != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestNoRetries(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	rec := newRecorder(func(context.Context, *Message) error { return errors.New("boom") })
	e.startWorker(t, Subscription{Name: "billing", Topic: "orders", MaxRetries: NoRetries, Handler: rec.handle})
	e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	dl := deadLetters(t, NewDLQ(e.js, DLQConfig{}), ListOptions{}, 1)[0]
	if rec.len() != 1 || dl.Deliveries != 1 || dl.Reason != "boom" {
		t.Fatalf("deliveries %d, dead letter %+v", rec.len(), dl)
	}
}

func TestLongHandlerKeepsItsMessage(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	rec := newRecorder(func(ctx context.Context, _ *Message) error {
		select { // three times the ack wait
		case <-time.After(3 * time.Second):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	w := e.startWorker(t, Subscription{Name: "slow", Topic: "orders", AckWait: time.Second, Handler: rec.handle})
	e.publish(t, "orders", Outgoing{Data: []byte(`{}`)})
	waitFor(t, 10*time.Second, "the slow handler to finish", func() bool { return w.Stats().Acked == 1 })
	cons, err := e.js.Consumer(testCtx(t), "TOPIC_ORDERS", "slow-normal")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	// Progress acks kept the message: it was never redelivered.
	if info.NumRedelivered != 0 || info.Delivered.Consumer != 1 || rec.len() != 1 {
		t.Fatalf("redelivered %d, delivered %d, handled %d", info.NumRedelivered, info.Delivered.Consumer, rec.len())
	}
}
