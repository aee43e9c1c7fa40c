package aggregates_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// Position loads with the repository a type's commands were registered
// with, knowing the type only by its name.
func TestServicePositionLoadsWithTheRegisteredRepository(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc, js := srv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := streams.NewSnapshots(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := aggregates.NewService(nc, aggregates.ServiceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	repos := map[string]*aggregates.Repository[*counter]{}
	for _, typ := range []string{"counter", "tally"} {
		repo, err := aggregates.NewRepository(typ, func() *counter { return &counter{} }, store, snaps, aggregates.WithSnapshotEvery(3))
		if err != nil {
			t.Fatal(err)
		}
		if err := aggregates.Register(svc, repo, aggregates.CommandSpec[*counter, add]{
			Name: "add", AggregateID: func(c *add) string { return c.ID }, Decide: func(c add, _ *aggregates.Instance[*counter]) ([]aggregates.Change, error) {
				return []aggregates.Change{{Type: "counter.added", Data: map[string]int{"by": c.By}}}, nil
			},
		}); err != nil {
			t.Fatal(err)
		}
		repos[typ] = repo
	}
	// Five events on counter c1 (a snapshot at version 3, two events
	// after it), one on tally c1.
	var last aggregates.Outcome
	for i := range 5 {
		if last, err = repos["counter"].Execute(ctx, "c1", aggregates.Command{ID: fmt.Sprint("c", i)}, addBy(1)); err != nil {
			t.Fatal(err)
		}
	}
	tally, err := repos["tally"].Execute(ctx, "c1", aggregates.Command{ID: "t"}, addBy(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ, id string
		want    streams.Position
	}{
		{"counter", "c1", streams.Position{Version: 5, Sequence: last.Sequence}},
		{"tally", "c1", streams.Position{Version: 1, Sequence: tally.Sequence}},
		{"counter", "absent", streams.Position{}},
	} {
		got, err := svc.Position(ctx, tc.typ, tc.id)
		if err != nil || got != tc.want {
			t.Errorf("Position(%s, %s) = %+v, %v; want %+v", tc.typ, tc.id, got, err, tc.want)
		}
	}
	// State is the same load, with the state: the snapshot at version 3
	// plus the two events after it.
	st, pos, err := svc.State(ctx, "counter", "c1")
	if c, ok := st.(*counter); err != nil || !ok || c.Value != 5 || pos != (streams.Position{Version: 5, Sequence: last.Sequence}) {
		t.Errorf("State(counter, c1) = %#v at %+v, %v; want value 5 at version 5", st, pos, err)
	}
	if st, pos, err := svc.State(ctx, "counter", "absent"); err != nil || st.(*counter).Value != 0 || pos != (streams.Position{}) {
		t.Errorf("State of an absent aggregate = %#v at %+v, %v; want a fresh state at the zero position", st, pos, err)
	}
	if _, _, err := svc.State(ctx, "ledger", "c1"); !errors.Is(err, aggregates.ErrUnknownAggregateType) {
		t.Errorf("State of an unregistered type: %v, want ErrUnknownAggregateType", err)
	}
	if got, want := svc.Commands(), []string{"counter.add", "tally.add"}; !slices.Equal(got, want) {
		t.Errorf("Commands() = %v, want %v", got, want)
	}
	if _, err := svc.Position(ctx, "ledger", "c1"); !errors.Is(err, aggregates.ErrUnknownAggregateType) {
		t.Errorf("Position of an unregistered type: %v, want ErrUnknownAggregateType", err)
	}
	if _, err := svc.Position(ctx, "counter", "bad.id"); !errors.Is(err, streams.ErrInvalidAggregateID) {
		t.Errorf("Position of an invalid id: %v, want ErrInvalidAggregateID", err)
	}
}
