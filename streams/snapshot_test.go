package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

func TestSnapshotsNeverGoBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	snaps, err := streams.NewSnapshots(ctx, f.js, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snaps.Load(ctx, "user", "u1"); !errors.Is(err, streams.ErrSnapshotNotFound) {
		t.Fatalf("missing: %v", err)
	}
	s20 := streams.Snapshot{AggregateType: "user", AggregateID: "u1", Version: 20, Sequence: 99, Schema: 1, State: json.RawMessage(`{"v":20}`)}
	must(t, snaps.Save(ctx, s20))
	s10 := s20
	s10.Version, s10.Sequence, s10.State = 10, 50, json.RawMessage(`{"v":10}`)
	if err := snaps.Save(ctx, s10); !errors.Is(err, streams.ErrSnapshotStale) {
		t.Fatalf("older snapshot: err = %v, want ErrSnapshotStale", err)
	}
	got, err := snaps.Load(ctx, "user", "u1")
	if err != nil || got.Version != 20 || string(got.State) != `{"v":20}` {
		t.Fatalf("load = %+v %v", got, err)
	}
	s30 := s20
	s30.Version, s30.State = 30, json.RawMessage(`{"v":30}`)
	must(t, snaps.Save(ctx, s30))
	if got, _ := snaps.Load(ctx, "user", "u1"); got.Version != 30 {
		t.Fatalf("newer snapshot not stored: %+v", got)
	}
	if err := snaps.Save(ctx, streams.Snapshot{AggregateType: "user", AggregateID: "a.b", State: json.RawMessage(`{}`)}); !errors.Is(err, streams.ErrInvalidAggregateID) {
		t.Fatalf("bad id: %v", err)
	}
}

// Refresh replaces a snapshot of the same version (Save does not) and,
// like Save, never an older one.
func TestSnapshotRefreshReplacesTheSameVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	snaps, err := streams.NewSnapshots(ctx, f.js, f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s5 := streams.Snapshot{AggregateType: "user", AggregateID: "r1", Version: 5, Sequence: 9, Schema: 1, State: json.RawMessage(`{"a":1}`)}
	must(t, snaps.Save(ctx, s5))
	same := s5
	same.State = json.RawMessage(`{"a":1,"remembered":["c1"]}`)
	if err := snaps.Save(ctx, same); !errors.Is(err, streams.ErrSnapshotStale) {
		t.Fatalf("Save at the same version: %v, want ErrSnapshotStale", err)
	}
	must(t, snaps.Refresh(ctx, same))
	if got, _ := snaps.Load(ctx, "user", "r1"); string(got.State) != string(same.State) {
		t.Fatalf("after Refresh: %s", got.State)
	}
	older := s5
	older.Version, older.State = 4, json.RawMessage(`{"old":true}`)
	if err := snaps.Refresh(ctx, older); !errors.Is(err, streams.ErrSnapshotStale) {
		t.Fatalf("Refresh with an older version: %v, want ErrSnapshotStale", err)
	}
}

// Concurrent savers meeting an unreadable snapshot: the newest still wins.
func TestSnapshotsNeverGoBackAfterAnUnreadableOne(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	snaps, err := streams.NewSnapshots(ctx, f.js, f.cfg)
	must(t, err)
	kv, err := f.js.KeyValue(ctx, f.cfg.SnapshotBucket)
	must(t, err)
	const trials, savers = 100, 8
	for trial := range trials {
		id := fmt.Sprintf("u%d", trial)
		if _, err := kv.Put(ctx, "user."+id, []byte("not json")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for v := 1; v <= savers; v++ {
			wg.Go(func() {
				<-start
				err := snaps.Save(ctx, snapshotAt("user", id, uint64(v)))
				if err != nil && !errors.Is(err, streams.ErrSnapshotStale) {
					t.Errorf("save v%d: %v", v, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if got, err := snaps.Load(ctx, "user", id); err != nil || got.Version != savers {
			t.Fatalf("trial %d: versions 1..%d saved concurrently over an unreadable one, stored %+v %v", trial, savers, got, err)
		}
	}
}

func snapshotAt(typ, id string, v uint64) streams.Snapshot {
	return streams.Snapshot{AggregateType: typ, AggregateID: id, Version: v, Sequence: v, Schema: 1, State: json.RawMessage(fmt.Sprintf(`{"v":%d}`, v))}
}

// hookedKV passes what the real Get returned through afterGet.
type hookedKV struct {
	jetstream.KeyValue
	afterGet func(jetstream.KeyValueEntry, error) (jetstream.KeyValueEntry, error)
}

func (h *hookedKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	e, err := h.KeyValue.Get(ctx, key)
	return h.afterGet(e, err)
}

// The unreadable value a saver read may be replaced by a newer snapshot
// before the saver writes: the saver must then compare, not overwrite.
func TestUnreadableSnapshotIsReplacedOnlyWhileUnreadable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	kv, err := f.js.KeyValue(ctx, f.cfg.SnapshotBucket)
	must(t, err)
	plain := streams.NewSnapshotsOver(kv)
	if _, err := kv.Put(ctx, "user.u1", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	hooked := streams.NewSnapshotsOver(&hookedKV{KeyValue: kv, afterGet: func(e jetstream.KeyValueEntry, err error) (jetstream.KeyValueEntry, error) {
		once.Do(func() { must(t, plain.Save(ctx, snapshotAt("user", "u1", 5))) })
		return e, err
	}})
	if err := hooked.Save(ctx, snapshotAt("user", "u1", 1)); !errors.Is(err, streams.ErrSnapshotStale) {
		t.Fatalf("older save after a newer one replaced the unreadable value: err = %v, want ErrSnapshotStale", err)
	}
	if got, err := plain.Load(ctx, "user", "u1"); err != nil || got.Version != 5 {
		t.Fatalf("stored %+v %v, want version 5", got, err)
	}
	// Still unreadable when written: replaced.
	if _, err := kv.Put(ctx, "user.u2", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	must(t, plain.Save(ctx, snapshotAt("user", "u2", 1)))
	if got, err := plain.Load(ctx, "user", "u2"); err != nil || got.Version != 1 {
		t.Fatalf("unreadable snapshot not replaced: %+v %v", got, err)
	}
}

// A snapshot that could not be read may be newer: the error is returned
// and nothing is overwritten.
func TestSnapshotReadErrorNeverOverwrites(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	kv, err := f.js.KeyValue(ctx, f.cfg.SnapshotBucket)
	must(t, err)
	plain := streams.NewSnapshotsOver(kv)
	must(t, plain.Save(ctx, snapshotAt("user", "u1", 5)))
	var once sync.Once
	hooked := streams.NewSnapshotsOver(&hookedKV{KeyValue: kv, afterGet: func(e jetstream.KeyValueEntry, err error) (jetstream.KeyValueEntry, error) {
		once.Do(func() { e, err = nil, nats.ErrTimeout })
		return e, err
	}})
	err = hooked.Save(ctx, snapshotAt("user", "u1", 1))
	if !errors.Is(err, nats.ErrTimeout) || !strings.Contains(err.Error(), "user.u1") {
		t.Fatalf("err = %v, want the read's timeout naming the key", err)
	}
	if got, err := plain.Load(ctx, "user", "u1"); err != nil || got.Version != 5 {
		t.Fatalf("stored %+v %v, want version 5", got, err)
	}
}

// Aggregate ids may hold characters KV keys cannot: those are keyed in
// base64url, every other id keeps the wire contract's <type>.<id>.
func TestSnapshotKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	kv, err := f.js.KeyValue(ctx, f.cfg.SnapshotBucket)
	must(t, err)
	snaps, err := streams.NewSnapshots(ctx, f.js, f.cfg)
	must(t, err)
	for id, want := range map[string]string{
		"u1":            "user.u1",
		"A-z_0=9/x":     "user.A-z_0=9/x",
		"b64":           "user.b64",
		"user:42":       "user.b64.dXNlcjo0Mg",
		"alice@example": "user.b64.YWxpY2VAZXhhbXBsZQ",
		"café":          "user.b64.Y2Fmw6k",
		"a+b":           "user.b64.YSti",
		"01a2~x":        "user.b64.MDFhMn54",
	} {
		key, err := streams.SnapshotKey("user", id)
		if err != nil || key != want {
			t.Errorf("SnapshotKey(user, %q) = %q %v, want %q", id, key, err, want)
			continue
		}
		snap := snapshotAt("user", id, 3)
		if err := snaps.Save(ctx, snap); err != nil {
			t.Errorf("save %q: %v", id, err)
			continue
		}
		got, err := snaps.Load(ctx, "user", id)
		if err != nil || got.AggregateID != id || got.Version != 3 || string(got.State) != string(snap.State) {
			t.Errorf("load %q: %+v %v", id, got, err)
		}
		if _, err := kv.Get(ctx, want); err != nil {
			t.Errorf("id %q: no value under key %s: %v", id, want, err)
		}
	}
	if _, err := streams.SnapshotKey("us:er", "u1"); !errors.Is(err, streams.ErrInvalidAggregateType) {
		t.Errorf("type with a character keys cannot hold: err = %v", err)
	}
	// Every KV error names the key.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := snaps.Load(ctx, "user", "nobody:1"); !errors.Is(err, streams.ErrSnapshotNotFound) || !strings.Contains(err.Error(), "user.b64.") {
		t.Errorf("missing: err = %v, want ErrSnapshotNotFound naming the key", err)
	}
	if _, err := snaps.Load(cancelled, "user", "u1"); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "user.u1") {
		t.Errorf("load, cancelled: err = %v, want one naming the key", err)
	}
	if err := snaps.Save(cancelled, snapshotAt("user", "a+b", 9)); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "user.b64.YSti") {
		t.Errorf("save, cancelled: err = %v, want one naming the key", err)
	}
}
