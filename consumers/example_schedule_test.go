package consumers_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/jetflowtest"
)

// A message published for later, listed, and cancelled by its id before
// its time: no handler ever gets it.
func ExamplePublisher_PublishAt() {
	srv, err := jetflowtest.StartServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := consumers.EnsureTopic(ctx, js, consumers.TopicConfig{Name: "reminders"}); err != nil {
		fmt.Println(err)
		return
	}
	pub := consumers.NewPublisher(js)
	at := time.Date(2099, 12, 24, 18, 0, 0, 0, time.UTC)
	s, err := pub.PublishAt(ctx, "reminders", at, consumers.Outgoing{Key: "order.remind", Data: []byte(`{"id":"o-1"}`), MsgID: "remind-o-1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("scheduled", s.ID, "for", s.At.Format(time.RFC3339))
	list, _ := consumers.ListScheduled(ctx, js, "reminders")
	fmt.Println("pending:", len(list), list[0].Key)
	fmt.Println("cancel:", consumers.CancelScheduled(ctx, js, "reminders", "remind-o-1"))
	err = consumers.CancelScheduled(ctx, js, "reminders", "remind-o-1")
	fmt.Println("again:", errors.Is(err, consumers.ErrNotScheduled))
	// Output:
	// scheduled remind-o-1 for 2099-12-24T18:00:00Z
	// pending: 1 order.remind
	// cancel: <nil>
	// again: true
}
