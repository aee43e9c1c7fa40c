package jetflowtest_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
)

// An aggregate's repository on the in-memory stores, without a NATS
// server: the account domain of domain_test.go, its commands executed as
// the command service executes them.

// decide is the decider of one command of the account domain.
func decide[C any](spec aggregates.CommandSpec[*Account, C], cmd C) aggregates.Decider[*Account] {
	return func(acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) { return spec.Decide(cmd, acc) }
}

// counted is d, counting its decisions in n.
func counted(n *atomic.Int32, d aggregates.Decider[*Account]) aggregates.Decider[*Account] {
	return func(acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
		n.Add(1)
		return d(acc)
	}
}

func accountRepository(t *testing.T, store aggregates.EventStore, snaps aggregates.SnapshotStore, opts ...aggregates.RepositoryOption) *aggregates.Repository[*Account] {
	t.Helper()
	repo, err := aggregates.NewRepository("account", NewAccount, store, snaps, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// mustExecute executes a command that must succeed at version want.
func mustExecute(t *testing.T, repo *aggregates.Repository[*Account], id string, cmd aggregates.Command, d aggregates.Decider[*Account], want uint64) aggregates.Outcome {
	t.Helper()
	out, err := repo.Execute(t.Context(), id, cmd, d)
	if err != nil || out.Version != want {
		t.Fatalf("%s on %s: %+v %v, want version %d", cmd.ID, id, out, err, want)
	}
	return out
}

func accountEvents(t *testing.T, store *jetflowtest.EventStore, id string) []streams.Event {
	t.Helper()
	events, err := collect(store.Load(t.Context(), "account", id, 0))
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestRepositoryOnInMemoryStores(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, snaps := jetflowtest.NewEventStore(), jetflowtest.NewSnapshotStore()
	repo := accountRepository(t, store, snaps, aggregates.WithSnapshotEvery(2))
	one := uint64(1)
	for _, c := range []struct {
		name    string
		id      string
		cmd     aggregates.Command
		decide  aggregates.Decider[*Account]
		version uint64 // the outcome's, when the command succeeds
		err     error
	}{
		{"open", "a1", aggregates.Command{ID: "c1"}, decide(openSpec, Open{Owner: "ada"}), 1, nil},
		{"deposit", "a1", aggregates.Command{ID: "c2"}, decide(depositSpec, Deposit{Amount: 50}), 2, nil},
		{"withdraw beyond the balance", "a1", aggregates.Command{ID: "c3"}, decide(withdrawSpec, Withdraw{Amount: 80}), 0, aggregates.ErrRuleViolated},
		{"withdraw", "a1", aggregates.Command{ID: "c4"}, decide(withdrawSpec, Withdraw{Amount: 30}), 3, nil},
		{"an expected version that is not the aggregate's", "a1", aggregates.Command{ID: "c5", ExpectedVersion: &one}, decide(depositSpec, Deposit{Amount: 1}), 0, aggregates.ErrVersionMismatch},
		{"deposit on no account", "a2", aggregates.Command{ID: "c6"}, decide(depositSpec, Deposit{Amount: 1}), 0, aggregates.ErrNotFound},
		{"open another", "a2", aggregates.Command{ID: "c7"}, decide(openSpec, Open{Owner: "bob"}), 1, nil},
	} {
		out, err := repo.Execute(ctx, c.id, c.cmd, c.decide)
		switch {
		case c.err != nil && !errors.Is(err, c.err):
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		case c.err == nil && (err != nil || out.Version != c.version || out.AggregateID != c.id || len(out.Events) != 1):
			t.Errorf("%s: %+v %v, want version %d with one event", c.name, out, err, c.version)
		}
	}
	events := accountEvents(t, store, "a1")
	var types []string
	for _, ev := range events {
		types = append(types, ev.Type)
	}
	if want := []string{EventOpened, EventDeposited, EventWithdrawn}; len(types) != 3 || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("a1 holds %v, want %v", types, want)
	}
	if ev := events[2]; ev.Sequence != 3 || ev.Metadata.CausationID != "c4" || ev.Version != 3 {
		t.Errorf("the withdrawal: %+v, want sequence 3, version 3, caused by c4", ev)
	}
	snap, err := snaps.Load(ctx, "account", "a1")
	if err != nil || snap.Version != 2 || snap.Sequence != 2 {
		t.Fatalf("snapshot %+v (%v), want one at version 2 (every 2 events)", snap, err)
	}
	// Another process, cache empty: the snapshot and the event after it.
	acc, err := accountRepository(t, store, snaps).Load(ctx, "a1")
	if err != nil || acc.Position != (streams.Position{Sequence: 3, Version: 3}) || acc.State.Balance != 20 || acc.State.Owner != "ada" {
		t.Fatalf("loaded %+v %+v (%v), want ada's account at version 3 with 20", acc.Position, acc.State, err)
	}
}

// A repository whose cached aggregate is behind another process's write
// appends at a stale position, meets the conflict, reloads and decides
// again; without retries the conflict reaches the caller.
func TestRepositoryRetriesAConflict(t *testing.T) {
	t.Parallel()
	store := jetflowtest.NewEventStore()
	first, second := accountRepository(t, store, nil), accountRepository(t, store, nil)
	mustExecute(t, first, "a1", aggregates.Command{ID: "open"}, decide(openSpec, Open{Owner: "ada"}), 1)
	mustExecute(t, second, "a1", aggregates.Command{ID: "dep-1"}, decide(depositSpec, Deposit{Amount: 50}), 2)

	// first still holds a1 at version 1.
	var decisions atomic.Int32
	out := mustExecute(t, first, "a1", aggregates.Command{ID: "dep-2"}, counted(&decisions, decide(depositSpec, Deposit{Amount: 20})), 3)
	if decisions.Load() != 2 || out.Sequence != 3 {
		t.Fatalf("decided %d times, outcome %+v; want 2 decisions (the first met a conflict)", decisions.Load(), out)
	}
	acc, err := first.Load(t.Context(), "a1")
	if err != nil || acc.State.Balance != 70 {
		t.Fatalf("balance %+v (%v), want 70", acc, err)
	}

	strict := accountRepository(t, store, nil, aggregates.WithConflictRetries(0))
	mustExecute(t, strict, "a1", aggregates.Command{ID: "dep-3"}, decide(depositSpec, Deposit{Amount: 1}), 4)
	mustExecute(t, first, "a1", aggregates.Command{ID: "dep-4"}, decide(depositSpec, Deposit{Amount: 1}), 5)
	_, err = strict.Execute(t.Context(), "a1", aggregates.Command{ID: "dep-5"}, decide(depositSpec, Deposit{Amount: 1}))
	wantConflict(t, err, streams.ConflictError{AggregateType: "account", AggregateID: "a1", ExpectedSequence: 4, ActualSequence: 5, Known: true})
	if n := len(accountEvents(t, store, "a1")); n != 5 {
		t.Fatalf("a1 holds %d events, want 5", n)
	}
}

// A lost ack is settled by the repository sending the same events again:
// the command succeeds once, with one copy stored. A failure it cannot
// settle reaches the caller, and the next command reloads.
func TestRepositoryOnAFailingStore(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		fail    func(*jetflowtest.EventStore)
		err     error // of the command that meets the failure
		stored  int   // a1's events after it
		version uint64
	}{
		{"a lost ack of one event", func(s *jetflowtest.EventStore) { s.LoseNextAck() }, nil, 3, 3},
		{"two lost acks", func(s *jetflowtest.EventStore) { s.LoseNextAck(); s.LoseNextAck() }, nil, 3, 3},
		{"an outcome unknown, not stored", func(s *jetflowtest.EventStore) { s.FailNextAppend(streams.ErrOutcomeUnknown) }, nil, 3, 3},
		{"a refusal", func(s *jetflowtest.EventStore) { s.FailNextAppend(errDiskFull) }, errDiskFull, 2, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			store := jetflowtest.NewEventStore()
			repo := accountRepository(t, store, jetflowtest.NewSnapshotStore())
			mustExecute(t, repo, "a1", aggregates.Command{ID: "open"}, decide(openSpec, Open{Owner: "ada"}), 1)
			mustExecute(t, repo, "a1", aggregates.Command{ID: "dep-1"}, decide(depositSpec, Deposit{Amount: 50}), 2)
			c.fail(store)
			out, err := repo.Execute(t.Context(), "a1", aggregates.Command{ID: "wd-1"}, decide(withdrawSpec, Withdraw{Amount: 20}))
			if !errors.Is(err, c.err) || out.Version != c.version { // errors.Is(err, nil): err is nil
				t.Fatalf("%+v %v, want version %d and error %v", out, err, c.version, c.err)
			}
			if n := len(accountEvents(t, store, "a1")); n != c.stored {
				t.Fatalf("a1 holds %d events, want %d", n, c.stored)
			}
			// The next command starts from what is stored.
			mustExecute(t, repo, "a1", aggregates.Command{ID: "dep-2"}, decide(depositSpec, Deposit{Amount: 5}), uint64(c.stored)+1)
		})
	}
}

// An idempotent command resent is answered from its first execution, by
// the same repository and by one that has not seen it, and a resend whose
// first attempt's ack was lost is stored once.
func TestRepositoryIdempotentResends(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, snaps := jetflowtest.NewEventStore(), jetflowtest.NewSnapshotStore()
	repo := accountRepository(t, store, snaps)
	mustExecute(t, repo, "a1", aggregates.Command{ID: "open", Idempotent: true}, decide(openSpec, Open{Owner: "ada"}), 1)
	store.LoseNextAck()
	first := mustExecute(t, repo, "a1", aggregates.Command{ID: "dep-1", Idempotent: true}, decide(depositSpec, Deposit{Amount: 50}), 2)
	for name, r := range map[string]*aggregates.Repository[*Account]{"same repository": repo, "another repository": accountRepository(t, store, snaps)} {
		out, err := r.Execute(ctx, "a1", aggregates.Command{ID: "dep-1", Idempotent: true}, decide(depositSpec, Deposit{Amount: 50}))
		if err != nil || !out.Duplicate || out.Version != first.Version || out.Sequence != first.Sequence || len(out.Events) != 0 {
			t.Errorf("%s: resend %+v %v, want the first outcome %+v as a duplicate", name, out, err, first)
		}
	}
	if n := len(accountEvents(t, store, "a1")); n != 2 {
		t.Fatalf("a1 holds %d events, want 2", n)
	}
}

// "No snapshots" passed as a typed nil store turns snapshots off rather
// than failing at the first snapshot; no event store at all is refused.
func TestRepositoryWithATypedNilSnapshotStore(t *testing.T) {
	t.Parallel()
	var none *jetflowtest.SnapshotStore
	repo := accountRepository(t, jetflowtest.NewEventStore(), none, aggregates.WithSnapshotEvery(1))
	mustExecute(t, repo, "a1", aggregates.Command{ID: "c1"}, decide(openSpec, Open{Owner: "ada"}), 1)
	mustExecute(t, repo, "a1", aggregates.Command{ID: "c2"}, decide(depositSpec, Deposit{Amount: 5}), 2)

	var noStore *jetflowtest.EventStore
	if _, err := aggregates.NewRepository("account", NewAccount, noStore, nil); err == nil {
		t.Fatal("a repository without an event store was made")
	}
}
