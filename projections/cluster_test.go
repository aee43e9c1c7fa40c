package projections_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// TestReplicatedRunAndRebuild: on a 3-node cluster with R3 buckets and
// consumers (replicated resets, leases with server-side TTLs), the runner
// applies events, a rebuild switches generations, and records are exact.
func TestReplicatedRunAndRebuild(t *testing.T) {
	natstest.SkipIfShort(t)
	t.Parallel()
	c := natstest.RunCluster(t)
	nc := c.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	scfg := streams.DefaultConfig()
	scfg.Replicas = 3
	if err := streams.Provision(ctxT(t), js, scfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, scfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{url: c.URL, nc: nc, js: js, store: store, cfg: projections.Config{
		Streams: scfg, LeaseTTL: 2 * time.Second, StatusInterval: 50 * time.Millisecond,
		Retries: 1, RetryBackoff: 5 * time.Millisecond,
	}}
	p := counterProjection(&counterHandler{})
	last := e.appendNotes(t, "r", notes("r", 30)...)
	r := e.startRunner(t, natstest.Connect(t, c.URL), p)
	waitFor(t, "applied on R3", func() bool { return status(t, r, "counters").LastApplied >= last })
	admin, err := projections.NewAdmin(ctxT(t), natstest.Connect(t, c.URL), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := admin.Rebuild(ctxT(t), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	last = e.appendNotes(t, "r", "after")
	waitFor(t, "runner on generation 2", func() bool {
		s := status(t, r, "counters")
		return s.Generation == 2 && s.LastApplied >= last
	})
	kv, err := js.KeyValue(ctxT(t), meta.Active.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := kv.Status(ctxT(t)); st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatal("rebuilt bucket is not R3")
	}
	if c, _ := e.record(t, meta.Active.Bucket, "r"); c.Count != 31 {
		t.Fatalf("r = %d events, want 31", c.Count)
	}
}
