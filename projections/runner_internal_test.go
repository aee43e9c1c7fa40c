package projections

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
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

	r, err := NewRunner(nc, cfg, []Projection{p})
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

// A Start cut short by its ctx (here the projection's consumer cannot be
// created, so it never starts) leaves nothing running behind it.
func TestFailedStartLeavesNothingRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	body := fmt.Sprintf(`
listen: 127.0.0.1:-1
jetstream { store_dir: %q }
accounts { A { jetstream: enabled, users: [
  {user: svc, password: svc, permissions: {
    publish: {allow: [">"], deny: ["$JS.API.CONSUMER.CREATE.EVENTS.>", "$JS.API.CONSUMER.DURABLE.CREATE.EVENTS.>"]},
    subscribe: {allow: [">"]}}}
]}}
`, filepath.Join(dir, "js"))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := natstest.RunServerWithConfig(t, natsserver.Config{ConfigFile: conf})
	nc := natstest.Connect(t, srv.URL, nats.UserInfo("svc", "svc"))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	scfg := streams.DefaultConfig()
	if err := streams.Provision(context.Background(), js, scfg); err != nil {
		t.Fatal(err)
	}
	p := Projection{Name: "stuck", Subjects: []string{"events.thing.>"}, Handler: JSONHandler[struct{}]{
		KeyOf:  func(streams.Event) (string, error) { return "", nil },
		Evolve: func(context.Context, streams.Event, *struct{}) (*struct{}, error) { return nil, nil },
	}}
	r, err := NewRunner(nc, Config{Streams: scfg, LeaseTTL: time.Second}, []Projection{p})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := r.Start(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("start: %v, want its deadline", err)
	}
	stopped := make(chan struct{})
	go func() { r.wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the runner's goroutines still run after its Start failed")
	}
}
