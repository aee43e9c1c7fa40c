package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
)

// Appending with the expected position, and what a stale writer gets.
func ExampleStore_Append() {
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

	cfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		panic(err)
	}
	store, _ := streams.NewStore(js, cfg)

	opened, _ := json.Marshal(map[string]string{"owner": "ada"})
	res, err := store.Append(ctx, "account", "acc-1", streams.Position{}, // a new aggregate
		streams.Event{Type: "account.opened", Data: opened},
		streams.Event{Type: "account.credited", Data: json.RawMessage(`{"amount":100}`)})
	if err != nil {
		panic(err)
	}
	fmt.Println("version", res.Version, "last sequence", res.LastSequence)

	// A writer still at the empty position conflicts.
	_, err = store.Append(ctx, "account", "acc-1", streams.Position{}, streams.Event{Type: "account.opened", Data: opened})
	fmt.Println("conflict:", errors.Is(err, streams.ErrConcurrencyConflict))

	for ev, err := range store.Load(ctx, "account", "acc-1", 0) {
		if err != nil {
			panic(err)
		}
		fmt.Println(ev.Version, ev.Type, string(ev.Data))
	}
	// Output:
	// version 2 last sequence 1
	// conflict: true
	// 1 account.opened {"owner":"ada"}
	// 2 account.credited {"amount":100}
}
