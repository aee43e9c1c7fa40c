package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// A read model of order totals per customer: every order.placed event adds
// to its customer's record in the bucket rm_totals.
func ExampleRunner() {
	// An embedded JetStream server; a program connects to its own NATS.
	srv, err := jetflowtest.StartServer()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	_ = streams.Provision(ctx, js, streams.DefaultConfig())
	store, _ := streams.NewStore(js, streams.DefaultConfig())

	type placed struct {
		Customer string `json:"customer"`
		Amount   int    `json:"amount"`
	}
	type total struct {
		Orders int `json:"orders"`
		Amount int `json:"amount"`
	}
	totals := projections.Projection{
		Name:     "totals",
		Subjects: []string{"events.order.>"},
		Handler: projections.JSONHandler[total]{
			KeyOf: func(ev streams.Event) (string, error) {
				var p placed
				err := json.Unmarshal(ev.Data, &p)
				return projections.Key(p.Customer), err
			},
			Evolve: func(_ context.Context, ev streams.Event, t *total) (*total, error) {
				var p placed
				if err := json.Unmarshal(ev.Data, &p); err != nil {
					return nil, err
				}
				if t == nil {
					t = &total{}
				}
				t.Orders++
				t.Amount += p.Amount
				return t, nil
			},
		},
	}
	var last uint64
	for i, amount := range []int{30, 12, 8} {
		data, _ := json.Marshal(placed{Customer: "ada@example.com", Amount: amount})
		res, _ := store.Append(ctx, "order", fmt.Sprint("o", i), streams.Position{}, streams.Event{Type: "order.placed", Data: data})
		last = res.LastSequence
	}

	runner, _ := projections.NewRunner(nc, projections.Config{}, []projections.Projection{totals})
	_ = runner.Start(ctx)
	defer func() { _ = runner.Stop(ctx) }()
	for s, _ := runner.Status("totals"); s.LastApplied < last; s, _ = runner.Status("totals") {
		time.Sleep(time.Millisecond)
	}
	kv, _ := js.KeyValue(ctx, "rm_totals")
	entry, _ := kv.Get(ctx, projections.Key("ada@example.com"))
	fmt.Println(entry.Key(), strings.TrimSpace(string(entry.Value())))
	// Output: =YWRhQGV4YW1wbGUuY29t {"orders":3,"amount":50}
}

// An ordered set pages through items at any offset in O(log n + page).
func ExampleOrderedSet() {
	newestFirst := func(a, b int) int { return b - a }
	s := projections.NewOrderedSet(newestFirst)
	for _, v := range []int{5, 1, 9, 3, 7} {
		s.Insert(v)
	}
	s.Delete(3)
	s.Page(1, 2, func(v int) { fmt.Print(v, " ") })
	fmt.Println("of", s.Len())
	// Output: 7 5 of 4
}
