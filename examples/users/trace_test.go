package users_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/wire"
)

// A traceparent sent with a command reaches its stored event, the worker
// handling that event, and the message that handler publishes in turn.
func TestTraceParentFollowsAChangeEndToEnd(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	trace := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

	if _, err := consumers.EnsureTopic(ctx(t), n.p.JS, consumers.TopicConfig{Name: "welcome"}); err != nil {
		t.Fatal(err)
	}
	pub := consumers.NewPublisher(n.p.JS)
	seenByEventHandler := make(chan string, 1)
	seenDownstream := make(chan string, 1)
	startWorker := func(sub consumers.Subscription) {
		w, err := consumers.NewWorker(n.p.JS, sub, consumers.WithoutDLQ())
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Stop(context.Background()) })
	}
	// A process manager: on user.created, publish a welcome message.
	startWorker(consumers.Subscription{
		Name: "welcomer", Stream: "EVENTS", Subjects: []string{"events.user.>"},
		Handler: func(ctx context.Context, m *consumers.Message) error {
			seenByEventHandler <- m.TraceParent()
			_, err := pub.Publish(ctx, "welcome", consumers.Outgoing{Data: m.Data()})
			return err
		},
	})
	startWorker(consumers.Subscription{
		Name: "mailer", Topic: "welcome",
		Handler: func(_ context.Context, m *consumers.Message) error {
			seenDownstream <- m.TraceParent()
			return nil
		},
	})

	c := newClient(t, srv.URL)
	created := c.mustSend("cmd.user.create", map[string]string{"username": "tracy", "email": "tracy@example.com"},
		map[string]string{wire.HeaderTraceParent: trace})
	if got := eventsOf(t, n, created.AggregateID)[0].Metadata.TraceParent; got != trace {
		t.Fatalf("stored event traceparent %q", got)
	}
	for name, ch := range map[string]chan string{"event handler": seenByEventHandler, "downstream worker": seenDownstream} {
		select {
		case got := <-ch:
			if got != trace {
				t.Fatalf("%s saw traceparent %q, want %q", name, got, trace)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never got its message", name)
		}
	}
}

// A traceparent that is not a W3C one is dropped (W3C Trace Context): the
// command succeeds and its event carries no traceparent.
func TestMalformedTraceParentIsDropped(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	for i, tp := range []string{
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",                                 // uppercase
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + strings.Repeat("x\x01", 200), // long, control characters
	} {
		r := c.mustSend("cmd.user.create", map[string]string{"username": fmt.Sprintf("tom%d", i), "email": "tom@example.com"},
			map[string]string{wire.HeaderTraceParent: tp})
		evs := eventsOf(t, n, r.AggregateID)
		if len(evs) != 1 || evs[0].Metadata.TraceParent != "" {
			t.Fatalf("stored event metadata %+v, want no traceparent", evs[0].Metadata)
		}
	}
}
