package consumers_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/jetflowtest"
)

// A topic, a subscription with a payload filter, and a publish.
func Example() {
	// An embedded JetStream server; a program connects to its own NATS.
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

	if _, err := consumers.EnsureTopic(ctx, js, consumers.TopicConfig{Name: "orders"}); err != nil {
		fmt.Println(err)
		return
	}
	handled := make(chan string, 1)
	w, err := consumers.NewWorker(js, consumers.Subscription{
		Name:    "big-orders",
		Topic:   "orders",
		Filters: []consumers.Filter{{Field: "amount", Operator: consumers.OpGreaterThan, Value: 100}},
		Handler: func(_ context.Context, m *consumers.Message) error {
			handled <- fmt.Sprintf("%s %s %s", m.Key(), m.Priority(), m.Data())
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer w.Stop(ctx)

	pub := consumers.NewPublisher(js)
	for _, amount := range []int{50, 500} {
		_, err := pub.Publish(ctx, "orders", consumers.Outgoing{
			Key:      "order.created",
			Data:     fmt.Appendf(nil, `{"amount":%d}`, amount),
			Priority: consumers.PriorityHigh,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	select {
	case h := <-handled:
		fmt.Println(h)
	case <-time.After(5 * time.Second):
		fmt.Println("timeout")
	}
	// Output: order.created high {"amount":500}
}
