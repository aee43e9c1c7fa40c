package jetflowtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
)

// What only the in-memory stores have (failures to order, options) and
// what the conformance suite cannot compare on a server (timing, ctx).

var errDiskFull = errors.New("disk full")

func mustCount(t *testing.T, s *jetflowtest.EventStore, want int) {
	t.Helper()
	events, err := collect(s.ReadAll(t.Context(), 0, ""))
	if err != nil || len(events) != want {
		t.Fatalf("the store holds %d events (%v), want %d", len(events), err, want)
	}
}

func TestFailNextAppendStoresNothingAndReturnsTheError(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := jetflowtest.NewEventStore()
	errLost := errors.New("connection lost")
	s.FailNextAppend(errDiskFull)
	s.FailNextAppend(errLost)
	// Refused before reaching the store: takes no failure.
	if _, err := s.Append(ctx, "doc", "d1", streams.Position{}); !errors.Is(err, streams.ErrNoEvents) {
		t.Fatalf("append without events: %v", err)
	}
	for i, want := range []error{errDiskFull, errLost} {
		res, err := s.Append(ctx, "doc", "d1", streams.Position{}, eventOf("doc.created", `{}`))
		if err != want {
			t.Fatalf("append %d: %+v %v, want the error %v as it is", i, res, err, want)
		}
		mustCount(t, s, 0)
	}
	res, err := s.Append(ctx, "doc", "d1", streams.Position{}, eventOf("doc.created", `{}`))
	wantResult(t, "once the failures are used", res, err, 1, 1, 1)
}

func TestFailNextAppendWithAnUnknownOutcome(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := jetflowtest.NewEventStore()
	first, err := s.Append(ctx, "doc", "d1", streams.Position{}, eventOf("doc.created", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	cause := fmt.Errorf("the leader did not answer: %w", streams.ErrOutcomeUnknown)
	s.FailNextAppend(cause)
	_, err = s.Append(ctx, "doc", "d1", streams.Position{Sequence: first.LastSequence}, eventOf("doc.edited", `{"n":1}`), eventOf("doc.edited", `{"n":2}`))
	var unknown *streams.OutcomeUnknownError
	if !errors.As(err, &unknown) || !errors.Is(err, streams.ErrOutcomeUnknown) || unknown.Cause != cause {
		t.Fatalf("err = %v, want a *streams.OutcomeUnknownError caused by the given error", err)
	}
	if unknown.AggregateType != "doc" || unknown.AggregateID != "d1" || unknown.After != first.Position() || len(unknown.Events) != 2 {
		t.Fatalf("unknown outcome %+v, want doc d1 after %+v with 2 events", unknown, first.Position())
	}
	for i, ev := range unknown.Events {
		if ev.ID == "" || ev.Version != uint64(i+2) || ev.Sequence != 0 || ev.AggregateID != "d1" {
			t.Errorf("event %d as sent: %+v", i, ev)
		}
	}
	mustCount(t, s, 1)
	// Nothing was stored: sending the same events again stores them.
	res, err := s.Append(ctx, "doc", "d1", unknown.After, unknown.Events...)
	if err != nil || res.FirstSequence != 2 || res.Version != 3 || res.Events[0].ID != unknown.Events[0].ID {
		t.Fatalf("settling: %+v %v", res, err)
	}
	mustCount(t, s, 3)
}

func TestFailNextAppendPanicsOnNil(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "FailNextAppend(nil)") {
			t.Fatalf("recovered %v, want a panic naming FailNextAppend(nil)", r)
		}
	}()
	jetflowtest.NewEventStore().FailNextAppend(nil)
}

func TestLoseNextAck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		events int
		stale  bool // another writer got there first: nothing of ours is stored
	}{
		{"one event stored", 1, false},
		{"a batch stored", 3, false},
		{"one event in conflict", 1, true},
		{"a batch in conflict", 3, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := jetflowtest.NewEventStore()
			if c.stale {
				if _, err := s.Append(ctx, "doc", "d1", streams.Position{}, eventOf("doc.created", `{"by":"another"}`)); err != nil {
					t.Fatal(err)
				}
			}
			events := make([]streams.Event, c.events)
			for i := range events {
				events[i] = eventOf("doc.created", fmt.Sprintf(`{"n":%d}`, i))
			}
			s.LoseNextAck()
			_, err := s.Append(ctx, "doc", "d1", streams.Position{}, events...)
			var unknown *streams.OutcomeUnknownError
			if !errors.As(err, &unknown) || !errors.Is(err, context.DeadlineExceeded) || len(unknown.Events) != c.events {
				t.Fatalf("err = %v, want a *streams.OutcomeUnknownError of %d events matching context.DeadlineExceeded", err, c.events)
			}
			for i, ev := range unknown.Events {
				if ev.ID == "" || ev.Version != uint64(i+1) || ev.Sequence != 0 {
					t.Errorf("event %d as sent: %+v, want an id, version %d and no sequence", i, ev, i+1)
				}
			}
			stored := c.events
			if c.stale {
				stored = 1
			}
			mustCount(t, s, stored)
			res, err := s.Append(ctx, "doc", "d1", unknown.After, unknown.Events...)
			if c.stale {
				wantConflict(t, err, streams.ConflictError{AggregateType: "doc", AggregateID: "d1", ActualSequence: 1, Known: true})
			} else {
				wantResult(t, "settling", res, err, 1, 1, uint64(c.events))
			}
			mustCount(t, s, stored)
		})
	}
}

// Once the duplicate window has passed, an id is no longer known, as on a
// server: stored elsewhere again, it is a new event. Its own resend right
// after its position is still recognised.
func TestDuplicateWindow(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const window = 50 * time.Millisecond
	s := jetflowtest.NewEventStore(jetflowtest.WithDuplicateWindow(window))
	ev := withID(eventOf("doc.created", `{}`), "evt-1")
	if _, err := s.Append(ctx, "doc", "d1", streams.Position{}, ev); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(ctx, "doc", "d2", streams.Position{}, ev)
	wantDuplicate(t, err, streams.DuplicateEventError{AggregateType: "doc", AggregateID: "d2", EventID: "evt-1", Sequence: 1})
	time.Sleep(window + 10*time.Millisecond)
	res, err := s.Append(ctx, "doc", "d2", streams.Position{}, ev)
	wantResult(t, "after the window", res, err, 2, 2, 1)
	res, err = s.Append(ctx, "doc", "d1", streams.Position{}, ev)
	wantResult(t, "resend after the window", res, err, 1, 1, 1)
	mustCount(t, s, 2)
}

func TestEventStoreOptions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("X", -7200))
	s := jetflowtest.NewEventStore(
		jetflowtest.WithSource("billing"),
		jetflowtest.WithClock(func() time.Time { return at }),
		jetflowtest.WithMaxPayload(1000),
	)
	res, err := s.Append(ctx, "doc", "d1", streams.Position{}, eventOf("doc.created", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev := res.Events[0]; ev.Metadata.Source != "billing" || !ev.OccurredAt.Equal(at) || ev.OccurredAt.Location() != time.UTC {
		t.Errorf("source %q occurred at %s, want billing at %s in UTC", ev.Metadata.Source, ev.OccurredAt, at)
	}
	_, err = s.Append(ctx, "doc", "d1", res.Position(), eventOf("doc.edited", `"`+strings.Repeat("a", 900)+`"`))
	var pe *streams.PayloadTooLargeError
	if !errors.As(err, &pe) || pe.Max != 1000 || pe.Size <= 1000 {
		t.Errorf("err = %v, want a *streams.PayloadTooLargeError of max 1000", err)
	}
	res, err = jetflowtest.NewEventStore().Append(ctx, "doc", "d1", streams.Position{}, eventOf("doc.created", `{}`))
	if err != nil || res.Events[0].Metadata.Source != streams.DefaultSource || time.Since(res.Events[0].OccurredAt) > time.Minute {
		t.Errorf("defaults: %+v %v, want source %s and now", res, err, streams.DefaultSource)
	}
}

// A source that could not travel in a header is refused at the append, as
// streams.Store refuses it, naming the problem.
func TestASourceThatCannotBeAHeaderIsRefused(t *testing.T) {
	t.Parallel()
	for source, says := range map[string]string{" billing": "must not start or end with blanks", "bill\ning": "must not contain control characters"} {
		s := jetflowtest.NewEventStore(jetflowtest.WithSource(source))
		_, err := s.Append(context.Background(), "order", "o1", streams.Position{}, jetflowtest.Event("order.placed", map[string]int{"n": 1}))
		if !errors.Is(err, streams.ErrInvalidEvent) || !strings.Contains(err.Error(), says) {
			t.Errorf("source %q: %v, want ErrInvalidEvent saying %q", source, err, says)
		}
	}
}

func TestNewEventStorePanicsOnInvalidOptions(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opt  jetflowtest.EventStoreOption
		says string
	}{
		{"nil clock", jetflowtest.WithClock(nil), "WithClock(nil)"},
		{"no events per append", jetflowtest.WithMaxEventsPerAppend(0), "max events per append 0"},
		{"more events than a batch holds", jetflowtest.WithMaxEventsPerAppend(streams.MaxBatchEvents + 1), "max events per append 1001"},
		{"no payload", jetflowtest.WithMaxPayload(0), "max payload 0"},
		{"no duplicate window", jetflowtest.WithDuplicateWindow(0), "duplicate window 0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), c.says) {
					t.Errorf("recovered %v, want a panic saying %q", r, c.says)
				}
			}()
			jetflowtest.NewEventStore(c.opt)
		})
	}
}

func TestEventStoreUnderADoneCtx(t *testing.T) {
	t.Parallel()
	s := jetflowtest.NewEventStore()
	first, err := s.Append(t.Context(), "doc", "d1", streams.Position{}, eventOf("doc.created", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, read := range map[string]func() ([]streams.Event, error){
		"load":     func() ([]streams.Event, error) { return collect(s.Load(ctx, "doc", "d1", 0)) },
		"read all": func() ([]streams.Event, error) { return collect(s.ReadAll(ctx, 0, "")) },
	} {
		if events, err := read(); len(events) != 0 || !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %d events, err %v; want none and context.Canceled", name, len(events), err)
		}
	}
	// The version of a position given by its sequence is read first.
	_, err = s.Append(ctx, "doc", "d1", streams.Position{Sequence: first.LastSequence}, eventOf("doc.edited", `{}`))
	if !errors.Is(err, context.Canceled) || errors.Is(err, streams.ErrOutcomeUnknown) {
		t.Errorf("append: err = %v, want context.Canceled", err)
	}
	if _, err := jetflowtest.NewSnapshotStore().Load(ctx, "doc", "d1"); !errors.Is(err, context.Canceled) {
		t.Errorf("load snapshot: err = %v, want context.Canceled", err)
	}
	err = jetflowtest.NewSnapshotStore().Save(ctx, streams.Snapshot{AggregateType: "doc", AggregateID: "d1", Version: 1, State: json.RawMessage(`{}`)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("save snapshot: err = %v, want context.Canceled", err)
	}
}

// What the store hands out and takes in are copies: changing them changes
// nothing stored.
func TestEventStoreKeepsCopies(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := jetflowtest.NewEventStore()
	data := []byte(`{"n":1}`)
	res, err := s.Append(ctx, "doc", "d1", streams.Position{}, streams.Event{Type: "doc.created", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	data[5] = '9'
	loaded, _ := collect(s.Load(ctx, "doc", "d1", 0))
	loaded[0].Data[5] = '8'
	all, _ := collect(s.ReadAll(ctx, 0, ""))
	all[0].Data[5] = '7'
	resent, err := s.Append(ctx, "doc", "d1", streams.Position{}, res.Events...)
	if err != nil {
		t.Fatal(err)
	}
	resent.Events[0].Data[5] = '6'
	for name, events := range map[string]func() ([]streams.Event, error){
		"load":     func() ([]streams.Event, error) { return collect(s.Load(ctx, "doc", "d1", 0)) },
		"read all": func() ([]streams.Event, error) { return collect(s.ReadAll(ctx, 0, "doc")) },
	} {
		if got, err := events(); err != nil || len(got) != 1 || string(got[0].Data) != `{"n":1}` {
			t.Errorf("%s: %+v %v, want the data as appended", name, got, err)
		}
	}
}

func TestLoadSeesEventsAppendedWhileItRuns(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := jetflowtest.NewEventStore()
	pos := streams.Position{}
	for n := range 3 {
		res, err := s.Append(ctx, "doc", "d1", pos, eventOf("doc.edited", fmt.Sprintf(`{"n":%d}`, n)))
		if err != nil {
			t.Fatal(err)
		}
		pos = res.Position()
	}
	var versions []uint64
	for ev, err := range s.Load(ctx, "doc", "d1", 0) {
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, ev.Version)
		if ev.Version == 2 {
			if _, err := s.Append(ctx, "doc", "d1", pos, eventOf("doc.edited", `{}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fmt.Sprint(versions) != "[1 2 3 4]" {
		t.Fatalf("loaded versions %v, want [1 2 3 4]", versions)
	}
}

// Savers racing with different versions: the latest version is kept,
// whatever the order they arrive in.
func TestSnapshotStoresConcurrentSavesKeepTheLatest(t *testing.T) {
	t.Parallel()
	for _, k := range storeKinds(t) {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			snaps := k.snapshots(t)
			ctx := ctxT(t)
			const savers = 16
			var wg sync.WaitGroup
			for v := range savers {
				wg.Go(func() {
					snap := streams.Snapshot{AggregateType: "account", AggregateID: "a1", Version: uint64(v + 1), Schema: 1, State: json.RawMessage(fmt.Sprintf(`{"v":%d}`, v+1))}
					if err := snaps.Save(ctx, snap); err != nil && !errors.Is(err, streams.ErrSnapshotStale) {
						t.Errorf("save version %d: %v", v+1, err)
					}
				})
			}
			wg.Wait()
			got, err := snaps.Load(ctx, "account", "a1")
			if err != nil || got.Version != savers || string(got.State) != fmt.Sprintf(`{"v":%d}`, savers) {
				t.Fatalf("kept %+v (%v), want version %d", got, err, savers)
			}
		})
	}
}
