package aggregates_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

func storeAndSnapshots(t *testing.T) (*streams.Store, *streams.Snapshots) {
	t.Helper()
	srv := natstest.RunServer(t)
	_, js := srv.JetStream(t)
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
	return store, snaps
}

func addBy(n int) aggregates.Decider[*counter] {
	return func(*aggregates.Instance[*counter]) ([]aggregates.Change, error) {
		return []aggregates.Change{{Type: "counter.added", Data: map[string]int{"by": n}}}, nil
	}
}

// An idempotent command answered as a no-op writes nothing when resent,
// also once the aggregate left the cache (or the resend reaches another
// instance): its result is kept in the aggregate's snapshot.
func TestResendOfANoOpAfterTheCacheForgotIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, snaps := storeAndSnapshots(t)
	repo, err := aggregates.NewRepository("counter", func() *counter { return &counter{} }, store, snaps, aggregates.WithCacheSize(1))
	if err != nil {
		t.Fatal(err)
	}
	setTo := func(target int) aggregates.Decider[*counter] {
		return func(inst *aggregates.Instance[*counter]) ([]aggregates.Change, error) {
			if inst.State.Value == target {
				return nil, nil // already there: nothing to do
			}
			return []aggregates.Change{{Type: "counter.added", Data: map[string]int{"by": target - inst.State.Value}}}, nil
		}
	}
	if _, err := repo.Execute(ctx, "a", aggregates.Command{ID: "init", Idempotent: true}, addBy(5)); err != nil {
		t.Fatal(err)
	}
	first, err := repo.Execute(ctx, "a", aggregates.Command{ID: "set-5", Idempotent: true}, setTo(5))
	if err != nil || len(first.Events) != 0 || first.Version != 1 {
		t.Fatalf("first run: %+v %v", first, err)
	}
	// Another aggregate takes the only cache slot, then a later command moves "a".
	if _, err := repo.Execute(ctx, "b", aggregates.Command{ID: "b1", Idempotent: true}, addBy(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Execute(ctx, "a", aggregates.Command{ID: "inc", Idempotent: true}, addBy(1)); err != nil {
		t.Fatal(err)
	}
	resend, err := repo.Execute(ctx, "a", aggregates.Command{ID: "set-5", Idempotent: true}, setTo(5))
	if err != nil {
		t.Fatal(err)
	}
	if len(resend.Events) != 0 || resend.Version != first.Version {
		t.Fatalf("resend of a no-op command wrote %d event(s): first reply version %d, resend reply %+v", len(resend.Events), first.Version, resend)
	}
}

// A multi-event command resent after the aggregate stopped remembering its
// result, deciding only one event this time: its stored first event is a
// duplicate, and the reply is the first run's (its last event's version
// and sequence), not that first event's.
func TestResendOfAForgottenMultiEventCommandGetsItsFirstReply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, _ := storeAndSnapshots(t)
	repo, err := aggregates.NewRepository("counter", func() *counter { return &counter{} }, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Opening bonus: the first deposit on an empty counter also writes a bonus event.
	deposit := func(inst *aggregates.Instance[*counter]) ([]aggregates.Change, error) {
		ch := []aggregates.Change{{Type: "counter.added", Data: map[string]int{"by": 1}}}
		if inst.State.Value == 0 {
			ch = append(ch, aggregates.Change{Type: "counter.added", Data: map[string]int{"by": 100}})
		}
		return ch, nil
	}
	first, err := repo.Execute(ctx, "a", aggregates.Command{ID: "x", Idempotent: true}, deposit)
	if err != nil || first.Version != 2 {
		t.Fatalf("first: %+v %v", first, err)
	}
	for i := range 64 {
		if _, err := repo.Execute(ctx, "a", aggregates.Command{ID: fmt.Sprint("o", i), Idempotent: true}, addBy(1)); err != nil {
			t.Fatal(err)
		}
	}
	resend, err := repo.Execute(ctx, "a", aggregates.Command{ID: "x", Idempotent: true}, deposit)
	if errors.Is(err, aggregates.ErrAlreadyApplied) {
		return // what the README promises for a longer command
	}
	if err != nil {
		t.Fatal(err)
	}
	if resend.Version != first.Version || resend.Sequence != first.Sequence {
		t.Fatalf("resend reply differs from the first: first version %d sequence %d, resend %+v", first.Version, first.Sequence, resend)
	}
}

// unreadableCopy is an event store whose appends meet their events stored
// already, at a sequence it cannot read back (a leader change, a
// partition): what the stream store reports then.
type unreadableCopy struct{ aggregates.EventStore }

func (u unreadableCopy) Append(_ context.Context, typ, id string, _ streams.Position, events ...streams.Event) (streams.AppendResult, error) {
	return streams.AppendResult{}, &streams.DuplicateEventError{AggregateType: typ, AggregateID: id, EventID: events[0].ID, Sequence: 7,
		ReadErr: errors.New("no leader")}
}

// A resend whose first run is stored but whose result cannot be read at
// that moment is told its outcome is unknown (503: resend), never 409
// "applied earlier" — which a client may read as "not applied".
func TestResendWhoseResultCannotBeReadIsUnknown(t *testing.T) {
	t.Parallel()
	store, _ := storeAndSnapshots(t)
	repo, err := aggregates.NewRepository("counter", func() *counter { return &counter{} }, unreadableCopy{store}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = repo.Execute(context.Background(), "a", aggregates.Command{ID: "x", Idempotent: true}, addBy(1))
	if !errors.Is(err, streams.ErrOutcomeUnknown) || errors.Is(err, aggregates.ErrAlreadyApplied) {
		t.Fatalf("err = %v, want an unknown outcome", err)
	}
}
