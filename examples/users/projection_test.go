package users_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/wire"
)

// waitUntil polls a runner's own state, which has no event to wait on.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runnerStatus(t *testing.T, r *projections.Runner) projections.Status {
	t.Helper()
	s, err := r.Status(users.ReadModel)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// loadWriter sends commands as one client would, until stop is closed:
// it creates users and changes them, and after every command reads its own
// write back with min_sequence. Every failure is reported on errs.
type loadWriter struct {
	nc      *nats.Conn
	name    string
	ids     []string
	errs    chan<- error
	created *sync.Map
	rng     *rand.Rand
}

func (w *loadWriter) run(stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		var subject string
		var body map[string]string
		switch {
		case len(w.ids) == 0 || i%3 == 0:
			id := fmt.Sprintf("%s-%d", w.name, i)
			subject, body = "cmd.user.create", map[string]string{"id": id, "username": fmt.Sprintf("%s_%d", w.name, i), "email": id + "@example.com"}
			w.ids = append(w.ids, id)
			w.created.Store(id, true)
		case i%3 == 1:
			id := w.ids[w.rng.IntN(len(w.ids))]
			subject, body = "cmd.user.update", map[string]string{"id": id, "email": fmt.Sprintf("%s-%d@example.org", id, i)}
		default:
			id := w.ids[w.rng.IntN(len(w.ids))]
			subject, body = "cmd.user.change_status", map[string]string{"id": id, "status": mixedStatus(i / 3)}
		}
		var reply wire.CommandReply
		if err := w.request(subject, body, &reply); err != nil {
			w.errs <- err
			return
		}
		var rec users.Record
		if err := w.request("query.users.get", map[string]any{"id": body["id"], "min_sequence": reply.Sequence}, &rec); err != nil {
			w.errs <- fmt.Errorf("read own write: %w", err)
			return
		}
		if rec.Version != reply.Version {
			w.errs <- fmt.Errorf("read own write of %s: version %d, want %d", body["id"], rec.Version, reply.Version)
			return
		}
		if i%5 == 0 {
			var list users.ListReply
			if err := w.request("query.users.list", map[string]any{"page": 1, "per_page": 10}, &list); err != nil {
				w.errs <- fmt.Errorf("list: %w", err)
				return
			}
		}
	}
}

func (w *loadWriter) request(subject string, body any, out any) error {
	data, _ := json.Marshal(body)
	resp, err := w.nc.Request(subject, data, 20*time.Second)
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	if e := wire.ParseErrorReply(resp); e != nil {
		return fmt.Errorf("%s: %w", subject, e)
	}
	return json.Unmarshal(resp.Data, out)
}

func startWriters(t *testing.T, url string, n int, created *sync.Map) (stop func() []error) {
	t.Helper()
	nc := natstest.Connect(t, url)
	errs := make(chan error, n)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		w := &loadWriter{nc: nc, name: fmt.Sprintf("w%02d", i), errs: errs, created: created, rng: rand.New(rand.NewPCG(uint64(i), 7))}
		wg.Go(func() { w.run(quit) })
	}
	return func() []error {
		close(quit)
		wg.Wait()
		close(errs)
		var out []error
		for err := range errs {
			out = append(out, err)
		}
		return out
	}
}

// replay rebuilds every users record from the event store, from scratch.
func replay(t *testing.T, n *node) map[string]*users.Record {
	t.Helper()
	out := map[string]*users.Record{}
	for ev, err := range n.p.Store.ReadAll(ctx(t), 1, users.AggregateType) {
		if err != nil {
			t.Fatal(err)
		}
		key := projections.Key(ev.AggregateID)
		rec, err := users.EvolveRecord(ctx(t), ev, out[key])
		if err != nil {
			t.Fatalf("replay of %d: %v", ev.Sequence, err)
		}
		out[key] = rec
	}
	return out
}

// bucketRecords reads every record of a read model bucket.
func bucketRecords(t *testing.T, n *node, bucket string) map[string]*users.Record {
	t.Helper()
	kv, err := n.p.JS.KeyValue(ctx(t), bucket)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.WatchAll(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string]*users.Record{}
	for e := range w.Updates() {
		if e == nil {
			break
		}
		if strings.HasPrefix(e.Key(), "_jetflow.") || e.Operation() != jetstream.KeyValuePut {
			continue
		}
		var rec users.Record
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			t.Fatalf("record %s: %v", e.Key(), err)
		}
		out[e.Key()] = &rec
	}
	return out
}

func sameRecords(t *testing.T, got, want map[string]*users.Record) {
	t.Helper()
	if len(got) != len(want) {
		missing := []string{}
		for k := range want {
			if got[k] == nil {
				missing = append(missing, k)
			}
		}
		t.Fatalf("read model has %d records, replay %d; missing %v", len(got), len(want), missing)
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, _ := json.Marshal(got[k])
		w, _ := json.Marshal(want[k])
		if string(g) != string(w) {
			t.Fatalf("record %s:\n got %s\nwant %s", k, g, w)
		}
	}
}

// TestKilledRunnerConvergesToReplay: the runner is killed mid-stream
// (its connection closed under it, no draining) while commands keep
// coming; a new runner resumes from the checkpoint and the read model
// equals a from-scratch replay, record for record.
func TestKilledRunnerConvergesToReplay(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	cfg := testProjectionConfig()
	cfg.MaxBatch = 32 // many small batches: the kill lands with writes in flight
	proj := users.Projection(cfg.Streams)

	nc1 := natstest.Connect(t, srv.URL)
	r1, err := projections.NewRunner(nc1, cfg, []projections.Projection{proj})
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// The writers read their own writes: give them a view and queries on
	// the node, fed by whichever runner runs.
	startQueriesOnly(t, n, cfg)
	var created sync.Map
	stopWriters := startWriters(t, srv.URL, 8, &created)
	waitUntil(t, "first runner applying", func() bool { return runnerStatus(t, r1).LastApplied > 300 })
	nc1.Close()
	killed, cancel := context.WithCancel(context.Background())
	cancel()
	_ = r1.Stop(killed)
	killedAt := runnerStatus(t, r1).LastApplied

	r2, err := projections.NewRunner(natstest.Connect(t, srv.URL), cfg, []projections.Projection{proj})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r2.Stop(context.Background()) })
	waitUntil(t, "second runner past the kill", func() bool { return runnerStatus(t, r2).LastApplied > killedAt+200 })
	if errs := stopWriters(); len(errs) > 0 {
		t.Fatalf("%d clients failed, first: %v", len(errs), errs[0])
	}
	last := streamLastSeq(t, n)
	waitUntil(t, "second runner caught up", func() bool { return runnerStatus(t, r2).LastApplied >= last })
	sameRecords(t, bucketRecords(t, n, "rm_users"), replay(t, n))
}

// startQueriesOnly serves the users queries on n without a runner of its own.
func startQueriesOnly(t *testing.T, n *node, cfg projections.Config) {
	t.Helper()
	view, err := users.NewView(n.p.Conn, withMaxWait(cfg, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := view.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = view.Stop(context.Background()) })
	if err := view.WaitLoaded(ctx(t)); err != nil {
		t.Fatal(err)
	}
	svc, err := projections.NewQueryService(n.p.Conn, projections.QueryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := users.RegisterQueries(svc, view); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
}

// TestRebuildUnderLoad: while 50 clients keep sending commands and
// reading their own writes, the users read model is rebuilt into a new
// bucket and switched; no query fails, and afterwards every user's record
// matches its aggregate.
func TestRebuildUnderLoad(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	rs := startReadSide(t, n)
	c := newClient(t, srv.URL)
	ids, seeded := createUsers(t, c, 300, mixedStatus)
	var created sync.Map
	for _, id := range ids {
		created.Store(id, true)
	}
	stopWriters := startWriters(t, srv.URL, 50, &created)
	waitUntil(t, "load running", func() bool { return streamLastSeq(t, n) > seeded+300 })

	admin, err := projections.NewAdmin(ctx(t), natstest.Connect(t, srv.URL), rs.cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := streamLastSeq(t, n)
	meta, err := admin.Rebuild(ctx(t), users.Projection(rs.cfg.Streams), nil)
	if err != nil {
		t.Fatal(err)
	}
	if during := streamLastSeq(t, n) - before; during == 0 {
		t.Fatal("no command was written while the rebuild ran")
	}
	if meta.Active.Number != 2 || meta.Active.Bucket != "rm_users_g2" {
		t.Fatalf("after rebuild: %+v", meta)
	}
	// Keep the load on across the switch of the runner and the view.
	switchedAt := streamLastSeq(t, n)
	waitUntil(t, "runner and view on generation 2", func() bool {
		s := runnerStatus(t, rs.runner)
		return s.Generation == 2 && s.LastApplied > switchedAt+300 && rs.view.Generation().Number == 2
	})
	if errs := stopWriters(); len(errs) > 0 {
		t.Fatalf("%d clients failed during the rebuild, first: %v", len(errs), errs[0])
	}
	if _, err := n.p.JS.KeyValue(ctx(t), "rm_users"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("old bucket rm_users not removed: %v", err)
	}
	last := streamLastSeq(t, n)
	var count atomic.Int64
	_, err = rs.view.Read(ctx(t), last, func(d *users.Directory) error {
		for id := range created.Range {
			id := id.(string)
			rec, ok := d.Get(id)
			if !ok {
				return fmt.Errorf("user %s missing from the read model", id)
			}
			inst, err := n.repo.Load(ctx(t), id)
			if err != nil {
				return err
			}
			u := inst.State
			if rec.Username != u.Username || rec.Email != u.Email || rec.Status != u.Status || rec.Version != inst.Position.Version {
				return fmt.Errorf("user %s: record %+v, aggregate %+v at version %d", id, rec, *u, inst.Position.Version)
			}
			count.Add(1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, bucketRecords(t, n, "rm_users_g2"), replay(t, n))
	t.Logf("%d users checked; stream at %d", count.Load(), last)
}

func withMaxWait(cfg projections.Config, d time.Duration) projections.Config {
	cfg.MaxWait = d
	return cfg
}
