package projections

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// A runner that gets the lease of a generation a rebuild has switched
// away from (it saw the lease free before the switch) follows the active
// one instead of running it, which would bring back the bucket and
// consumer the rebuild removed.
func TestLeaseOfARetiredGenerationIsNotRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	srv := natstest.RunServer(t)
	nc, js := srv.JetStream(t)
	scfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, scfg); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Streams: scfg, LeaseTTL: time.Second}
	p := Projection{Name: "stale", Subjects: []string{"events.thing.>"}, Handler: JSONHandler[struct{}]{
		KeyOf:  func(streams.Event) (string, error) { return "", nil },
		Evolve: func(context.Context, streams.Event, *struct{}) (*struct{}, error) { return nil, nil },
	}}
	admin, err := NewAdmin(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	old, err := admin.Ensure(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Rebuild(ctx, p, nil); err != nil {
		t.Fatal(err)
	}

	r, err := NewRunner(nc, cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	if r.meta, err = openMeta(ctx, r.js, r.cfg); err != nil {
		t.Fatal(err)
	}
	u := r.units[0]
	u.setTracker(r.newTracker(p, old.Active, StateStarting))
	g := &genRun{r: r, u: u, meta: old, metas: make(chan Meta), signal: func() {}}
	next, ok := g.run(ctx)
	if !ok || next.Active.Number != 2 {
		t.Fatalf("run of the retired generation returned %+v %v, want the active generation 2", next.Active, ok)
	}
	if _, err := js.Consumer(ctx, scfg.EventStream, old.Active.Consumer); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer of the retired generation: %v", err)
	}
	if _, err := js.KeyValue(ctx, old.Active.Bucket); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("bucket of the retired generation: %v", err)
	}
}
