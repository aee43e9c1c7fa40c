package aggregates_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// A command whose append got no ack in time (the server went silent for a
// while) is settled within the command's deadline by sending the same
// events again: it succeeds once, with exactly one copy stored, instead of
// failing with an outcome the client cannot know.
func TestCommandWhoseAppendOutcomeWasUnknownIsSettled(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	proxy := natstest.RunProxy(t, strings.TrimPrefix(srv.URL, "nats://"))
	// A short JetStream timeout bounds a batch's commit wait below the
	// command's deadline, so the first attempt's outcome is unknown.
	js, err := jetstream.New(natstest.Connect(t, proxy.URL), jetstream.WithDefaultTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := aggregates.NewRepository("counter", func() *counter { return &counter{} }, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	twoEvents := func(*aggregates.Instance[*counter]) ([]aggregates.Change, error) {
		return []aggregates.Change{
			{Type: "counter.added", Data: map[string]int{"by": 1}},
			{Type: "counter.added", Data: map[string]int{"by": 2}},
		}, nil
	}

	proxy.Pause()
	resumed := time.AfterFunc(700*time.Millisecond, proxy.Resume)
	defer resumed.Stop()
	out, err := repo.Execute(ctx, "c1", aggregates.Command{ID: "cmd-1", New: true}, twoEvents)
	if err != nil {
		t.Fatalf("command across a silent server: %v", err)
	}
	if out.Version != 2 {
		t.Fatalf("outcome version %d, want 2", out.Version)
	}
	var n int
	for _, err := range store.Load(ctx, "counter", "c1", 0) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("%d events stored, want exactly 2", n)
	}
}
