package streams_test

import (
	"encoding/json"
	"errors"
	"testing"

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
