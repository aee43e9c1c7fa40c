package jetflowtest_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
)

// The conformance suite: one table of behaviours, run against the
// in-memory EventStore and SnapshotStore and against streams' stores on a
// real embedded server. Each case checks what it expects on both, and
// the two transcripts of every call and answer (results, errors with
// their fields and messages, loaded events) must be the same, so the
// in-memory stores cannot drift from the real ones unnoticed.

// conformingStore is what the suite calls: the repository's EventStore
// and ReadAll, which both stores have.
type conformingStore interface {
	aggregates.EventStore
	ReadAll(ctx context.Context, from uint64, aggregateType string) iter.Seq2[streams.Event, error]
}

var (
	_ conformingStore = (*streams.Store)(nil)
	_ conformingStore = (*jetflowtest.EventStore)(nil)
)

// Every store of the suite stamps this time and caps appends at four
// events; both upcast doc.renamed from schema 1 to 2.
var conformanceNow = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)

const conformanceMaxEvents = 4

func conformanceUpcasters(t testing.TB) *streams.Upcasters {
	u := streams.NewUpcasters()
	err := u.Register("doc.renamed", 1, func(data json.RawMessage) (json.RawMessage, error) {
		var v1 struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(data, &v1); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]string{"title": v1.Name})
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// storeKind makes fresh, empty stores of one kind.
type storeKind struct {
	name      string
	events    func(t *testing.T) conformingStore
	snapshots func(t *testing.T) aggregates.SnapshotStore
}

// storeKinds are the in-memory stores and streams' stores on one embedded
// server of t, each new one on a stream (or bucket) of its own, so
// sequences start at 1 for every case.
func storeKinds(t *testing.T) []storeKind {
	t.Helper()
	srv := jetflowtest.RunServer(t)
	_, js := srv.JetStream(t)
	var n atomic.Int64
	config := func() streams.Config {
		i := n.Add(1)
		cfg := streams.DefaultConfig()
		cfg.EventStream = fmt.Sprintf("EVENTS_%d", i)
		cfg.SubjectPrefix = fmt.Sprintf("events%d", i)
		cfg.SnapshotBucket = fmt.Sprintf("snapshots_%d", i)
		cfg.MaxEventsPerAppend = conformanceMaxEvents
		return cfg
	}
	return []storeKind{
		{
			name: "memory",
			events: func(t *testing.T) conformingStore {
				return jetflowtest.NewEventStore(
					jetflowtest.WithClock(func() time.Time { return conformanceNow }),
					jetflowtest.WithUpcasters(conformanceUpcasters(t)),
					jetflowtest.WithMaxEventsPerAppend(conformanceMaxEvents),
				)
			},
			snapshots: func(*testing.T) aggregates.SnapshotStore { return jetflowtest.NewSnapshotStore() },
		},
		{
			name: "jetstream",
			events: func(t *testing.T) conformingStore {
				cfg := config()
				if _, err := streams.EnsureStream(ctxT(t), js, cfg.EventStreamConfig()); err != nil {
					t.Fatal(err)
				}
				store, err := streams.NewStore(js, cfg,
					streams.WithClock(func() time.Time { return conformanceNow }),
					streams.WithUpcasters(conformanceUpcasters(t)),
				)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = store.Close() })
				return store
			},
			snapshots: func(t *testing.T) aggregates.SnapshotStore {
				cfg := config()
				if _, err := streams.EnsureKeyValue(ctxT(t), js, cfg.SnapshotBucketConfig()); err != nil {
					t.Fatal(err)
				}
				snaps, err := streams.NewSnapshots(ctxT(t), js, cfg)
				if err != nil {
					t.Fatal(err)
				}
				return snaps
			},
		},
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// storeProbe calls a store and writes every call and its answer into a
// transcript.
type storeProbe struct {
	t     *testing.T
	store conformingStore
	snaps aggregates.SnapshotStore
	lines []string
}

func (r *storeProbe) note(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

func (r *storeProbe) append(typ, id string, after streams.Position, events ...streams.Event) (streams.AppendResult, error) {
	return r.appendCtx(ctxT(r.t), typ, id, after, events...)
}

func (r *storeProbe) appendCtx(ctx context.Context, typ, id string, after streams.Position, events ...streams.Event) (streams.AppendResult, error) {
	res, err := r.store.Append(ctx, typ, id, after, events...)
	shown := res
	shown.Events = abbreviated(res.Events)
	r.note("append %s %s after %+v (%d events): %s %s", typ, id, after, len(events), showJSONOf(shown), describe(err))
	return res, err
}

func (r *storeProbe) load(typ, id string, after uint64) ([]streams.Event, error) {
	events, err := collect(r.store.Load(ctxT(r.t), typ, id, after))
	r.note("load %s %s after %d: %s %s", typ, id, after, showJSONOf(abbreviated(events)), describe(err))
	return events, err
}

func (r *storeProbe) readAll(from uint64, typ string) ([]streams.Event, error) {
	events, err := collect(r.store.ReadAll(ctxT(r.t), from, typ))
	r.note("read all from %d of %q: %s %s", from, typ, showJSONOf(abbreviated(events)), describe(err))
	return events, err
}

// mustLoad is load, failing the test on an error.
func (r *storeProbe) mustLoad(typ, id string, after uint64) []streams.Event {
	r.t.Helper()
	events, err := r.load(typ, id, after)
	if err != nil {
		r.t.Fatalf("load %s %s: %v", typ, id, err)
	}
	return events
}

// stored counts every event in the store.
func (r *storeProbe) stored() int {
	r.t.Helper()
	events, err := r.readAll(0, "")
	if err != nil {
		r.t.Fatalf("read all: %v", err)
	}
	return len(events)
}

func (r *storeProbe) loadSnapshot(typ, id string) (streams.Snapshot, error) {
	snap, err := r.snaps.Load(ctxT(r.t), typ, id)
	r.note("load snapshot %s %s: %s %s", typ, id, showJSONOf(snap), describe(err))
	return snap, err
}

func (r *storeProbe) saveSnapshot(refresh bool, snap streams.Snapshot) error {
	save := r.snaps.Save
	if refresh {
		save = r.snaps.Refresh
	}
	err := save(ctxT(r.t), snap)
	r.note("save snapshot (refresh %t) %s: %s", refresh, showJSONOf(snap), describe(err))
	return err
}

// transcript is the recorded calls, with event ids (UUIDs) replaced by
// their order of first appearance: the two stores draw different ones.
func (r *storeProbe) transcript() string {
	seen := map[string]string{}
	return uuidPattern.ReplaceAllStringFunc(strings.Join(r.lines, "\n"), func(id string) string {
		if _, ok := seen[id]; !ok {
			seen[id] = fmt.Sprintf("<id %d>", len(seen)+1)
		}
		return seen[id]
	})
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func collect(events iter.Seq2[streams.Event, error]) ([]streams.Event, error) {
	var out []streams.Event
	for ev, err := range events {
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// abbreviated are events whose large data is shown by its size and
// digest, so a transcript stays small.
func abbreviated(events []streams.Event) []streams.Event {
	out := slices.Clone(events)
	for i, ev := range out {
		if len(ev.Data) > 256 {
			out[i].Data = json.RawMessage(fmt.Sprintf(`{"bytes":%d,"sha256":"%x"}`, len(ev.Data), sha256.Sum256(ev.Data)))
		}
	}
	return out
}

func showJSONOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(b)
}

// describe shows an error with its type and fields.
func describe(err error) string {
	var (
		ce *streams.ConflictError
		de *streams.DuplicateEventError
		pe *streams.PayloadTooLargeError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ce):
		return fmt.Sprintf("conflict %+v", *ce)
	case errors.As(err, &de):
		return fmt.Sprintf("duplicate %+v", *de)
	case errors.As(err, &pe):
		return fmt.Sprintf("payload too large %+v", *pe)
	}
	return "error: " + err.Error()
}

// eventOf is an event of type typ with data, which must be JSON.
func eventOf(typ, data string) streams.Event {
	return streams.Event{Type: typ, Data: json.RawMessage(data)}
}

func withID(ev streams.Event, id string) streams.Event {
	ev.ID = id
	return ev
}

// at is the position at stream sequence seq and version version.
func at(seq, version uint64) streams.Position {
	return streams.Position{Sequence: seq, Version: version}
}

func positions(events []streams.Event) []streams.Position {
	out := make([]streams.Position, len(events))
	for i, ev := range events {
		out[i] = ev.Position()
	}
	return out
}

func wantConflict(t *testing.T, err error, want streams.ConflictError) {
	t.Helper()
	var ce *streams.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, streams.ErrConcurrencyConflict) {
		t.Errorf("err = %v, want a *streams.ConflictError", err)
		return
	}
	if *ce != want {
		t.Errorf("conflict %+v, want %+v", *ce, want)
	}
}

func wantDuplicate(t *testing.T, err error, want streams.DuplicateEventError) {
	t.Helper()
	var de *streams.DuplicateEventError
	if !errors.As(err, &de) || !errors.Is(err, streams.ErrDuplicateEventID) || errors.Is(err, streams.ErrConcurrencyConflict) {
		t.Errorf("err = %v, want a *streams.DuplicateEventError and no conflict", err)
		return
	}
	if *de != want {
		t.Errorf("duplicate %+v, want %+v", *de, want)
	}
}

// wantResult checks an append's result: its commit's sequence (first and
// last are the same for a commit) and the version after it.
func wantResult(t *testing.T, what string, got streams.AppendResult, err error, first, last, version uint64) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	sameSeq := len(got.Events) > 0 && got.Events[0].Sequence == got.FirstSequence && got.Events[len(got.Events)-1].Sequence == got.LastSequence
	if got.FirstSequence != first || got.LastSequence != last || got.Version != version || !sameSeq {
		t.Errorf("%s: sequences %d to %d, version %d, %d events; want %d to %d, version %d", what,
			got.FirstSequence, got.LastSequence, got.Version, len(got.Events), first, last, version)
	}
}

func wantStored(t *testing.T, r *storeProbe, n int) {
	t.Helper()
	if got := r.stored(); got != n {
		t.Errorf("the store holds %d events, want %d", got, n)
	}
}

type conformanceCase struct {
	name string
	run  func(t *testing.T, r *storeProbe)
}

var eventStoreCases = []conformanceCase{
	{"a new aggregate starts at version 1 and sequences are global", func(t *testing.T, r *storeProbe) {
		r1, err := r.append("doc", "d1", streams.Position{}, eventOf("doc.created", `{"n":1}`))
		wantResult(t, "first", r1, err, 1, 1, 1)
		r2, err := r.append("doc", "d2", streams.Position{}, eventOf("doc.created", `{"n":2}`))
		wantResult(t, "another aggregate", r2, err, 2, 2, 1)
		r3, err := r.append("doc", "d1", r1.Position(), eventOf("doc.edited", `{"n":3}`), eventOf("doc.edited", `{"n":4}`))
		wantResult(t, "a batch", r3, err, 3, 3, 3)
		if err != nil {
			return
		}
		ev := r1.Events[0]
		if id, err := uuid.Parse(ev.ID); err != nil || id.Version() != 7 {
			t.Errorf("event id %q is not a UUIDv7 (%v)", ev.ID, err)
		}
		filled := streams.Event{
			ID: ev.ID, Type: "doc.created", AggregateType: "doc", AggregateID: "d1", Version: 1, Schema: 1,
			Data: json.RawMessage(`{"n":1}`), Metadata: streams.Metadata{Source: streams.DefaultSource},
			OccurredAt: conformanceNow, Sequence: 1,
		}
		if !reflect.DeepEqual(ev, filled) {
			t.Errorf("stored event\n%+v\nwant\n%+v", ev, filled)
		}
		loaded := r.mustLoad("doc", "d1", 0)
		if want := append(r1.Events, r3.Events...); !reflect.DeepEqual(loaded, want) {
			t.Errorf("loaded\n%+v\nwant the appended events\n%+v", loaded, want)
		}
		if got, want := positions(loaded), []streams.Position{at(1, 1), at(3, 2), at(3, 3)}; !reflect.DeepEqual(got, want) {
			t.Errorf("positions %v, want %v", got, want)
		}
		if all, err := r.readAll(0, ""); err != nil || len(all) != 4 || all[1].AggregateID != "d2" {
			t.Errorf("read all: %d events, %v", len(all), err)
		}
	}},
	{"what the caller sets is kept and occurred-at loads in UTC", func(t *testing.T, r *storeProbe) {
		at := time.Date(2025, 12, 31, 23, 59, 58, 5000, time.FixedZone("CET", 3600))
		ev := eventOf("doc.created", ` {"n": 1} `)
		ev.ID, ev.Schema, ev.OccurredAt = "evt-kept-1", 3, at
		ev.AggregateType, ev.AggregateID, ev.Version, ev.Sequence = "ignored", "ignored", 42, 42
		ev.Metadata = streams.Metadata{CorrelationID: "corr-1", CausationID: "cmd-1", UserID: "ada", Source: "billing", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
		res, err := r.append("doc", "d1", streams.Position{}, ev)
		wantResult(t, "append", res, err, 1, 1, 1)
		if err != nil {
			return
		}
		want := ev
		want.AggregateType, want.AggregateID, want.Version, want.Sequence = "doc", "d1", 1, 1
		if !reflect.DeepEqual(res.Events[0], want) {
			t.Errorf("appended\n%+v\nwant\n%+v", res.Events[0], want)
		}
		loaded := r.mustLoad("doc", "d1", 0)
		want.OccurredAt = at.UTC()
		if len(loaded) != 1 || !reflect.DeepEqual(loaded[0], want) {
			t.Errorf("loaded\n%+v\nwant\n%+v", loaded, want)
		}
	}},
	{"a stale position is a conflict naming both sequences and stores nothing", func(t *testing.T, r *storeProbe) {
		r1, _ := r.append("acct", "a1", streams.Position{}, eventOf("acct.opened", `{}`))
		r2, err := r.append("acct", "a1", r1.Position(), eventOf("acct.credited", `{"amount":5}`))
		wantResult(t, "second", r2, err, 2, 2, 2)
		for _, c := range []struct {
			name   string
			after  streams.Position
			events []streams.Event
		}{
			{"new aggregate that exists", streams.Position{}, []streams.Event{eventOf("acct.opened", `{}`)}},
			{"behind", r1.Position(), []streams.Event{eventOf("acct.credited", `{"amount":1}`)}},
			{"ahead", streams.Position{Sequence: 9, Version: 9}, []streams.Event{eventOf("acct.credited", `{"amount":1}`)}},
			{"behind, a batch", r1.Position(), []streams.Event{eventOf("acct.credited", `{"amount":1}`), eventOf("acct.credited", `{"amount":2}`)}},
			{"new, a batch", streams.Position{}, []streams.Event{eventOf("acct.opened", `{}`), eventOf("acct.credited", `{"amount":2}`)}},
		} {
			_, err := r.append("acct", "a1", c.after, c.events...)
			t.Run(c.name, func(t *testing.T) {
				wantConflict(t, err, streams.ConflictError{AggregateType: "acct", AggregateID: "a1", ExpectedSequence: c.after.Sequence, ActualSequence: 2, Known: true})
			})
		}
		wantStored(t, r, 2)
	}},
	{"a resend of a stored append returns the stored result", func(t *testing.T, r *storeProbe) {
		one := withID(eventOf("doc.created", `{"n":1}`), "evt-one")
		first, err := r.append("doc", "d1", streams.Position{}, one)
		wantResult(t, "first", first, err, 1, 1, 1)
		batch := []streams.Event{withID(eventOf("doc.edited", `{"n":2}`), "evt-two"), withID(eventOf("doc.edited", `{"n":3}`), "evt-three")}
		second, err := r.append("doc", "d1", first.Position(), batch...)
		wantResult(t, "batch", second, err, 2, 2, 3) // one commit, one sequence
		// The same ids with other data: the stored events answer.
		changed := withID(eventOf("doc.created", `{"n":100}`), "evt-one")
		for _, c := range []struct {
			name   string
			after  streams.Position
			events []streams.Event
			want   streams.AppendResult
		}{
			{"one event", streams.Position{}, []streams.Event{one}, first},
			{"one event with other data", streams.Position{}, []streams.Event{changed}, first},
			{"a batch", first.Position(), batch, second},
		} {
			res, err := r.append("doc", "d1", c.after, c.events...)
			t.Run(c.name, func(t *testing.T) {
				wantResult(t, "resend", res, err, c.want.FirstSequence, c.want.LastSequence, c.want.Version)
				if err == nil && res.Events[0].ID != c.events[0].ID {
					t.Errorf("resend answered with event %s, want %s", res.Events[0].ID, c.events[0].ID)
				}
			})
		}
		// Part of a commit is not the commit: a stale position.
		_, err = r.append("doc", "d1", first.Position(), batch[:1]...)
		t.Run("the first of a commit", func(t *testing.T) {
			wantConflict(t, err, streams.ConflictError{AggregateType: "doc", AggregateID: "d1", ExpectedSequence: 1, ActualSequence: 2, Known: true})
		})
		loaded := r.mustLoad("doc", "d1", 0)
		if len(loaded) != 3 || string(loaded[0].Data) != `{"n":1}` {
			t.Errorf("after the resends the aggregate has %d events: %+v", len(loaded), loaded)
		}
		wantStored(t, r, 3)
	}},
	{"an id stored elsewhere is a duplicate, not a conflict", func(t *testing.T, r *storeProbe) {
		first, second := withID(eventOf("doc.created", `{"n":1}`), "evt-first"), withID(eventOf("doc.edited", `{"n":2}`), "evt-second")
		r1, _ := r.append("doc", "d1", streams.Position{}, first)
		r2, _ := r.append("doc", "d1", r1.Position(), second)
		r.append("doc", "d9", streams.Position{}, eventOf("doc.created", `{}`))
		fresh := withID(eventOf("doc.edited", `{"n":3}`), "evt-fresh")
		for _, c := range []struct {
			name   string
			id     string
			after  streams.Position
			events []streams.Event
			want   streams.DuplicateEventError
		}{
			{"on another aggregate", "d2", streams.Position{}, []streams.Event{first},
				streams.DuplicateEventError{AggregateType: "doc", AggregateID: "d2", EventID: "evt-first", Sequence: 1}},
			{"earlier on this aggregate", "d1", r2.Position(), []streams.Event{first},
				streams.DuplicateEventError{AggregateType: "doc", AggregateID: "d1", EventID: "evt-first", Sequence: 1, Version: 1}},
			// A commit is deduplicated by its first event's id.
			{"first of a commit", "d3", streams.Position{}, []streams.Event{second, fresh},
				streams.DuplicateEventError{AggregateType: "doc", AggregateID: "d3", EventID: "evt-second", Sequence: 2}},
		} {
			_, err := r.append("doc", c.id, c.after, c.events...)
			t.Run(c.name, func(t *testing.T) { wantDuplicate(t, err, c.want) })
		}
		// A commit meets the stale position first, whatever its ids.
		for _, c := range []struct {
			name   string
			events []streams.Event
		}{
			{"one event", []streams.Event{first}},
			{"first of a commit", []streams.Event{first, fresh}},
			{"second of a commit", []streams.Event{fresh, first}},
		} {
			_, err := r.append("doc", "d9", streams.Position{}, c.events...)
			t.Run(c.name+", at a stale position", func(t *testing.T) {
				wantConflict(t, err, streams.ConflictError{AggregateType: "doc", AggregateID: "d9", ExpectedSequence: 0, ActualSequence: 3, Known: true})
			})
		}
		wantStored(t, r, 3)
	}},
	{"a position given by its sequence alone", func(t *testing.T, r *storeProbe) {
		r1, _ := r.append("doc", "d1", streams.Position{}, eventOf("doc.created", `{}`), eventOf("doc.edited", `{}`))
		other, _ := r.append("doc", "d2", streams.Position{}, eventOf("doc.created", `{}`))
		res, err := r.append("doc", "d1", streams.Position{Sequence: r1.LastSequence}, eventOf("doc.edited", `{}`))
		wantResult(t, "after a sequence", res, err, 3, 3, 3)
		for _, c := range []struct {
			name string
			seq  uint64
		}{{"another aggregate's sequence", other.LastSequence}, {"no such sequence", 99}, {"not its last", 1}} {
			_, err := r.append("doc", "d1", streams.Position{Sequence: c.seq}, eventOf("doc.edited", `{}`))
			t.Run(c.name, func(t *testing.T) {
				want := streams.ConflictError{AggregateType: "doc", AggregateID: "d1", ExpectedSequence: c.seq}
				if c.seq == 1 { // the version is found; the position is stale
					want.ActualSequence, want.Known = 3, true
				}
				wantConflict(t, err, want)
			})
		}
		wantStored(t, r, 4)
	}},
	{"what is refused before anything is stored", func(t *testing.T, r *storeProbe) {
		long := strings.Repeat("x", streams.MaxNameBytes+1)
		ok := eventOf("doc.created", `{}`)
		occurred := func(y int) streams.Event {
			ev := ok
			ev.OccurredAt = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
			return ev
		}
		meta := func(m streams.Metadata) streams.Event {
			ev := ok
			ev.Metadata = m
			return ev
		}
		same := withID(ok, "evt-same")
		for _, c := range []struct {
			name     string
			typ, id  string
			after    streams.Position
			events   []streams.Event
			sentinel error
		}{
			{"empty type", "", "d1", streams.Position{}, []streams.Event{ok}, streams.ErrInvalidAggregateType},
			{"type with a dot", "doc.v2", "d1", streams.Position{}, []streams.Event{ok}, streams.ErrInvalidAggregateType},
			{"empty id", "doc", "", streams.Position{}, []streams.Event{ok}, streams.ErrInvalidAggregateID},
			{"id with a blank", "doc", "d 1", streams.Position{}, []streams.Event{ok}, streams.ErrInvalidAggregateID},
			{"id with a wildcard", "doc", "d*", streams.Position{}, []streams.Event{ok}, streams.ErrInvalidAggregateID},
			{"invisible id", "doc", "\u200b", streams.Position{}, []streams.Event{ok}, streams.ErrInvalidAggregateID},
			{"id too long", "doc", long, streams.Position{}, []streams.Event{ok}, streams.ErrInvalidAggregateID},
			{"no events", "doc", "d1", streams.Position{}, nil, streams.ErrNoEvents},
			{"too many events", "doc", "d1", streams.Position{}, []streams.Event{ok, ok, ok, ok, ok}, streams.ErrTooManyEvents},
			{"a version without a sequence", "doc", "d1", streams.Position{Version: 5}, []streams.Event{ok}, streams.ErrInvalidPosition},
			{"empty event type", "doc", "d1", streams.Position{}, []streams.Event{eventOf("", `{}`)}, streams.ErrInvalidEvent},
			{"event type with a blank", "doc", "d1", streams.Position{}, []streams.Event{ok, eventOf("doc edited", `{}`)}, streams.ErrInvalidEvent},
			{"event type with a newline", "doc", "d1", streams.Position{}, []streams.Event{eventOf("doc\nedited", `{}`)}, streams.ErrInvalidEvent},
			{"negative schema", "doc", "d1", streams.Position{}, []streams.Event{{Type: "doc.created", Schema: -1, Data: json.RawMessage(`{}`)}}, streams.ErrInvalidEvent},
			{"no data", "doc", "d1", streams.Position{}, []streams.Event{eventOf("doc.created", ``)}, streams.ErrInvalidEvent},
			{"data not JSON", "doc", "d1", streams.Position{}, []streams.Event{eventOf("doc.created", `{"n":`)}, streams.ErrInvalidEvent},
			{"occurred after 9999", "doc", "d1", streams.Position{}, []streams.Event{occurred(10000)}, streams.ErrInvalidEvent},
			{"occurred before year 0", "doc", "d1", streams.Position{}, []streams.Event{occurred(-1)}, streams.ErrInvalidEvent},
			{"blank event id", "doc", "d1", streams.Position{}, []streams.Event{withID(ok, " ")}, streams.ErrInvalidEvent},
			{"event id with a leading blank", "doc", "d1", streams.Position{}, []streams.Event{withID(ok, " evt")}, streams.ErrInvalidEvent},
			{"event id of 41 bytes with a leading blank", "doc", "d1", streams.Position{}, []streams.Event{withID(ok, " "+strings.Repeat("e", 40))}, streams.ErrInvalidEvent},
			{"correlation id with a control character", "doc", "d1", streams.Position{}, []streams.Event{meta(streams.Metadata{CorrelationID: "c\x00"})}, streams.ErrInvalidEvent},
			{"user id ending in a tab", "doc", "d1", streams.Position{}, []streams.Event{meta(streams.Metadata{UserID: "ada\t"})}, streams.ErrInvalidEvent},
			{"source with a newline", "doc", "d1", streams.Position{}, []streams.Event{meta(streams.Metadata{Source: "a\nb"})}, streams.ErrInvalidEvent},
			{"long traceparent with a control character", "doc", "d1", streams.Position{}, []streams.Event{meta(streams.Metadata{TraceParent: strings.Repeat("t", 50) + "\x7f"})}, streams.ErrInvalidEvent},
			{"one id twice in an append", "doc", "d1", streams.Position{}, []streams.Event{same, ok, same}, streams.ErrInvalidEvent},
			{"data larger than the server takes", "doc", "d1", streams.Position{}, []streams.Event{ok, eventOf("doc.created", `"`+strings.Repeat("a", jetflowtest.DefaultMaxPayload)+`"`)}, streams.ErrPayloadTooLarge},
		} {
			_, err := r.append(c.typ, c.id, c.after, c.events...)
			t.Run(c.name, func(t *testing.T) {
				if !errors.Is(err, c.sentinel) || errors.Is(err, streams.ErrConcurrencyConflict) {
					t.Errorf("err = %v, want %v", err, c.sentinel)
				}
			})
		}
		// Exactly four events are allowed.
		res, err := r.append("doc", "d1", streams.Position{}, ok, ok, ok, ok)
		wantResult(t, "four events", res, err, 1, 1, 4)
		wantStored(t, r, 4)
	}},
	{"the largest event the server takes is stored, one byte more is refused", func(t *testing.T, r *storeProbe) {
		data := func(n int) string { return `"` + strings.Repeat("a", n-2) + `"` }
		ev := func(n int) streams.Event { return withID(eventOf("doc.created", data(n)), "evt-large") }
		probe := jetflowtest.DefaultMaxPayload
		_, err := r.append("doc", "d1", streams.Position{}, ev(probe))
		var pe *streams.PayloadTooLargeError
		if !errors.As(err, &pe) || pe.Max != jetflowtest.DefaultMaxPayload || pe.Index != 0 {
			t.Fatalf("err = %v, want a *streams.PayloadTooLargeError of max %d", err, jetflowtest.DefaultMaxPayload)
		}
		fits := probe - (pe.Size - pe.Max)
		_, err = r.append("doc", "d1", streams.Position{}, ev(fits+1))
		if !errors.As(err, &pe) || pe.Size != pe.Max+1 {
			t.Errorf("one byte over: err = %v, want size %d", err, jetflowtest.DefaultMaxPayload+1)
		}
		res, err := r.append("doc", "d1", streams.Position{}, ev(fits))
		wantResult(t, "largest", res, err, 1, 1, 1)
		if loaded := r.mustLoad("doc", "d1", 0); len(loaded) != 1 || len(loaded[0].Data) != fits {
			t.Errorf("loaded %d events", len(loaded))
		}
	}},
	{"load yields an aggregate's events after a sequence", func(t *testing.T, r *storeProbe) {
		r1, _ := r.append("doc", "d1", streams.Position{}, eventOf("doc.created", `{"n":1}`))
		r.append("doc", "d2", streams.Position{}, eventOf("doc.created", `{"n":2}`))
		r3, _ := r.append("doc", "d1", r1.Position(), eventOf("doc.edited", `{"n":3}`), eventOf("doc.edited", `{"n":4}`))
		r.append("user", "d1", streams.Position{}, eventOf("user.created", `{"n":5}`))
		for _, c := range []struct {
			name  string
			typ   string
			id    string
			after uint64
			want  []streams.Position
		}{
			// The two events of one commit share its sequence.
			{"all", "doc", "d1", 0, []streams.Position{at(1, 1), at(3, 2), at(3, 3)}},
			{"after its first", "doc", "d1", 1, []streams.Position{at(3, 2), at(3, 3)}},
			{"after another's", "doc", "d1", 2, []streams.Position{at(3, 2), at(3, 3)}},
			{"after its last", "doc", "d1", r3.LastSequence, nil},
			{"after the last possible sequence", "doc", "d1", math.MaxUint64, nil},
			{"the same id, another type", "user", "d1", 0, []streams.Position{at(4, 1)}},
			{"an unknown aggregate", "doc", "nobody", 0, nil},
		} {
			events, err := r.load(c.typ, c.id, c.after)
			t.Run(c.name, func(t *testing.T) {
				if err != nil || !reflect.DeepEqual(positions(events), append([]streams.Position{}, c.want...)) {
					t.Errorf("loaded %v (%v), want %v", positions(events), err, c.want)
				}
			})
		}
		for _, c := range []struct{ name, typ, id string }{{"invalid id", "doc", "a.b"}, {"invalid type and id", "", ""}} {
			events, err := r.load(c.typ, c.id, 0)
			t.Run(c.name, func(t *testing.T) {
				if len(events) != 0 || !errors.Is(err, streams.ErrInvalidAggregateID) {
					t.Errorf("loaded %d events, err %v; want ErrInvalidAggregateID", len(events), err)
				}
			})
		}
	}},
	{"read all yields the stream in order, of one type or all", func(t *testing.T, r *storeProbe) {
		r.append("doc", "d1", streams.Position{}, eventOf("doc.created", `{}`))
		r.append("user", "u1", streams.Position{}, eventOf("user.created", `{}`), eventOf("user.named", `{}`))
		r.append("doc", "d2", streams.Position{}, eventOf("doc.created", `{}`))
		for _, c := range []struct {
			name string
			from uint64
			typ  string
			want []uint64
		}{
			// The user's two events are one commit, at one sequence.
			{"all", 0, "", []uint64{1, 2, 2, 3}},
			{"from 1", 1, "", []uint64{1, 2, 2, 3}},
			{"from 2", 2, "", []uint64{2, 2, 3}},
			{"from 3", 3, "", []uint64{3}},
			{"docs", 0, "doc", []uint64{1, 3}},
			{"users from 2", 2, "user", []uint64{2, 2}},
			{"users from 3", 3, "user", nil},
			{"past the end", 4, "", nil},
			{"an unknown type", 0, "order", nil},
		} {
			events, err := r.readAll(c.from, c.typ)
			t.Run(c.name, func(t *testing.T) {
				var got []uint64
				for _, ev := range events {
					got = append(got, ev.Sequence)
				}
				if err != nil || !reflect.DeepEqual(got, c.want) {
					t.Errorf("read %v (%v), want %v", got, err, c.want)
				}
			})
		}
		if _, err := r.readAll(0, "a>"); !errors.Is(err, streams.ErrInvalidAggregateType) {
			t.Errorf("invalid type: err = %v", err)
		}
	}},
	{"upcasters apply to what is read, not to what an append answers", func(t *testing.T, r *storeProbe) {
		renamed := withID(eventOf("doc.renamed", `{"name":"draft"}`), "evt-renamed")
		res, err := r.append("doc", "d1", streams.Position{}, renamed)
		wantResult(t, "append", res, err, 1, 1, 1)
		resend, err := r.append("doc", "d1", streams.Position{}, renamed)
		wantResult(t, "resend", resend, err, 1, 1, 1)
		loaded := r.mustLoad("doc", "d1", 0)
		all, _ := r.readAll(0, "doc")
		for what, ev := range map[string]streams.Event{"appended": res.Events[0], "resent": resend.Events[0]} {
			if ev.Schema != 1 || string(ev.Data) != `{"name":"draft"}` {
				t.Errorf("%s: schema %d %s, want schema 1 as stored", what, ev.Schema, ev.Data)
			}
		}
		for what, events := range map[string][]streams.Event{"loaded": loaded, "read": all} {
			if len(events) != 1 || events[0].Schema != 2 || string(events[0].Data) != `{"title":"draft"}` {
				t.Errorf("%s: %+v, want schema 2 with a title", what, events)
			}
		}
	}},
	{"an append under a done ctx sends nothing", func(t *testing.T, r *storeProbe) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := r.appendCtx(ctx, "doc", "d1", streams.Position{}, eventOf("doc.created", `{}`))
		if !errors.Is(err, context.Canceled) || errors.Is(err, streams.ErrOutcomeUnknown) {
			t.Errorf("err = %v, want context.Canceled and a known outcome", err)
		}
		wantStored(t, r, 0)
	}},
}

func TestEventStoreConformance(t *testing.T) {
	t.Parallel()
	kinds := storeKinds(t)
	for _, c := range eventStoreCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runConformance(t, kinds, c, func(t *testing.T, k storeKind) *storeProbe {
				return &storeProbe{t: t, store: k.events(t)}
			})
		})
	}
}

// runConformance runs c on every kind of store, then compares their
// transcripts.
func runConformance(t *testing.T, kinds []storeKind, c conformanceCase, newProbe func(*testing.T, storeKind) *storeProbe) {
	transcripts := make([]string, len(kinds))
	for i, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			r := newProbe(t, k)
			c.run(t, r)
			transcripts[i] = r.transcript()
		})
	}
	if t.Failed() {
		return
	}
	for i := 1; i < len(kinds); i++ {
		if transcripts[i] != transcripts[0] {
			t.Errorf("%s and %s answered differently:\n%s", kinds[0].name, kinds[i].name, lineDiff(transcripts[0], transcripts[i]))
		}
	}
}

// lineDiff shows the lines of two transcripts from the first that differs.
func lineDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(la), len(lb)); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("call %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return "(no difference)"
}

var snapshotStoreCases = []conformanceCase{
	{"no snapshot yet", func(t *testing.T, r *storeProbe) {
		if _, err := r.loadSnapshot("account", "a1"); !errors.Is(err, streams.ErrSnapshotNotFound) {
			t.Errorf("err = %v, want ErrSnapshotNotFound", err)
		}
	}},
	{"a saved snapshot loads as the bucket keeps it", func(t *testing.T, r *storeProbe) {
		snap := streams.Snapshot{
			AggregateType: "account", AggregateID: "user:42", Version: 3, Sequence: 7, Schema: 2,
			State:   json.RawMessage(`{ "balance" : 20, "note": "<b>" }`),
			TakenAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600)),
		}
		if err := r.saveSnapshot(false, snap); err != nil {
			t.Fatal(err)
		}
		got, err := r.loadSnapshot("account", "user:42")
		if err != nil {
			t.Fatal(err)
		}
		want := snap
		want.State = json.RawMessage(`{"balance":20,"note":"\u003cb\u003e"}`)
		if got.AggregateType != want.AggregateType || got.AggregateID != want.AggregateID || got.Version != 3 || got.Sequence != 7 ||
			got.Schema != 2 || string(got.State) != string(want.State) || !got.TakenAt.Equal(want.TakenAt) {
			t.Errorf("loaded\n%+v\nwant\n%+v", got, want)
		}
	}},
	{"save never replaces the same or a later version; refresh replaces the same", func(t *testing.T, r *storeProbe) {
		snap := func(version uint64, state string) streams.Snapshot {
			return streams.Snapshot{AggregateType: "account", AggregateID: "a1", Version: version, Sequence: version * 2, Schema: 1, State: json.RawMessage(state)}
		}
		steps := []struct {
			name    string
			refresh bool
			snap    streams.Snapshot
			stale   bool
			state   string // the stored state after the step
		}{
			{"first", false, snap(5, `{"v":5}`), false, `{"v":5}`},
			{"same version", false, snap(5, `{"v":"again"}`), true, `{"v":5}`},
			{"older", false, snap(4, `{"v":4}`), true, `{"v":5}`},
			{"refresh of the same version", true, snap(5, `{"v":"refreshed"}`), false, `{"v":"refreshed"}`},
			{"refresh of an older one", true, snap(4, `{"v":4}`), true, `{"v":"refreshed"}`},
			{"newer", false, snap(6, `{"v":6}`), false, `{"v":6}`},
			{"refresh of a newer one", true, snap(8, `{"v":8}`), false, `{"v":8}`},
		}
		for _, s := range steps {
			err := r.saveSnapshot(s.refresh, s.snap)
			got, lerr := r.loadSnapshot("account", "a1")
			t.Run(s.name, func(t *testing.T) {
				if stale := errors.Is(err, streams.ErrSnapshotStale); stale != s.stale || (err != nil && !stale) {
					t.Errorf("err = %v, want stale %t", err, s.stale)
				}
				if lerr != nil || string(got.State) != s.state {
					t.Errorf("stored state %s (%v), want %s", got.State, lerr, s.state)
				}
			})
		}
	}},
	{"what a snapshot store refuses", func(t *testing.T, r *storeProbe) {
		for _, c := range []struct {
			name     string
			snap     streams.Snapshot
			sentinel error
		}{
			{"state not JSON", streams.Snapshot{AggregateType: "account", AggregateID: "a1", Version: 1, State: json.RawMessage(`{`)}, nil},
			{"no state", streams.Snapshot{AggregateType: "account", AggregateID: "a1", Version: 1}, nil},
			{"invalid id", streams.Snapshot{AggregateType: "account", AggregateID: "a b", Version: 1, State: json.RawMessage(`{}`)}, streams.ErrInvalidAggregateID},
			{"type a key cannot hold", streams.Snapshot{AggregateType: "acc:ount", AggregateID: "a1", Version: 1, State: json.RawMessage(`{}`)}, streams.ErrInvalidAggregateType},
			{"taken after 9999", streams.Snapshot{AggregateType: "account", AggregateID: "a1", Version: 1, State: json.RawMessage(`{}`), TakenAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, nil},
		} {
			err := r.saveSnapshot(false, c.snap)
			t.Run(c.name, func(t *testing.T) {
				if err == nil || c.sentinel != nil && !errors.Is(err, c.sentinel) {
					t.Errorf("err = %v, want a refusal matching %v", err, c.sentinel)
				}
			})
		}
		if _, err := r.loadSnapshot("account", "a1"); !errors.Is(err, streams.ErrSnapshotNotFound) {
			t.Errorf("a refused snapshot was stored: %v", err)
		}
		if _, err := r.loadSnapshot("acc:ount", "a1"); !errors.Is(err, streams.ErrInvalidAggregateType) {
			t.Errorf("load of an invalid type: %v", err)
		}
	}},
}

func TestSnapshotStoreConformance(t *testing.T) {
	t.Parallel()
	kinds := storeKinds(t)
	for _, c := range snapshotStoreCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runConformance(t, kinds, c, func(t *testing.T, k storeKind) *storeProbe {
				return &storeProbe{t: t, snaps: k.snapshots(t)}
			})
		})
	}
}

// Writers racing on one aggregate from the same position: one wins, every
// other gets a conflict, and the aggregate holds the winner's events only.
func TestEventStoresRaceOneWinner(t *testing.T) {
	t.Parallel()
	for _, k := range storeKinds(t) {
		for _, size := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%d events", k.name, size), func(t *testing.T) {
				t.Parallel()
				store := k.events(t)
				ctx := ctxT(t)
				first, err := store.Append(ctx, "order", "o1", streams.Position{}, eventOf("order.placed", `{}`))
				if err != nil {
					t.Fatal(err)
				}
				const writers = 24
				var wins, conflicts atomic.Int32
				var winner atomic.Uint64
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range writers {
					wg.Go(func() {
						events := make([]streams.Event, size)
						for j := range events {
							events[j] = eventOf("order.updated", fmt.Sprintf(`{"writer":%d,"n":%d}`, i, j))
						}
						<-start
						res, err := store.Append(ctx, "order", "o1", first.Position(), events...)
						var ce *streams.ConflictError
						switch {
						case err == nil:
							wins.Add(1)
							winner.Store(uint64(i))
							if res.Version != uint64(size)+1 {
								t.Errorf("winner at version %d, want %d", res.Version, size+1)
							}
						case errors.As(err, &ce):
							conflicts.Add(1)
							if ce.ExpectedSequence != first.LastSequence {
								t.Errorf("writer %d: conflict expected sequence %d, want %d", i, ce.ExpectedSequence, first.LastSequence)
							}
						default:
							t.Errorf("writer %d: %v, want success or a *streams.ConflictError", i, err)
						}
					})
				}
				close(start)
				wg.Wait()
				if wins.Load() != 1 || conflicts.Load() != writers-1 {
					t.Fatalf("%d won, %d conflicted; want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
				}
				events, err := collect(store.Load(ctx, "order", "o1", 0))
				if err != nil || len(events) != size+1 {
					t.Fatalf("the aggregate holds %d events (%v), want %d", len(events), err, size+1)
				}
				for j, ev := range events[1:] {
					want := fmt.Sprintf(`{"writer":%d,"n":%d}`, winner.Load(), j)
					if ev.Version != uint64(j+2) || string(ev.Data) != want {
						t.Errorf("event %d: version %d %s, want version %d %s", j+1, ev.Version, ev.Data, j+2, want)
					}
				}
			})
		}
	}
}

// Writers of different aggregates never conflict: every event is stored,
// commits' sequences are dense and each aggregate's versions count from 1.
func TestEventStoresConcurrentWritersOfManyAggregates(t *testing.T) {
	t.Parallel()
	for _, k := range storeKinds(t) {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			store := k.events(t)
			ctx := ctxT(t)
			const writers, appends = 8, 5
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					id := fmt.Sprintf("c%d", w)
					var pos streams.Position
					for n := range appends {
						events := []streams.Event{eventOf("cart.item_added", fmt.Sprintf(`{"n":%d}`, n))}
						if n%2 == 1 {
							events = append(events, eventOf("cart.item_added", `{}`))
						}
						res, err := store.Append(ctx, "cart", id, pos, events...)
						if err != nil {
							t.Errorf("%s append %d: %v", id, n, err)
							return
						}
						pos = res.Position()
					}
				})
			}
			wg.Wait()
			all, err := collect(store.ReadAll(ctx, 0, ""))
			if err != nil {
				t.Fatal(err)
			}
			const perWriter = appends + appends/2
			if len(all) != writers*perWriter {
				t.Fatalf("%d events stored, want %d", len(all), writers*perWriter)
			}
			versions := map[string]uint64{}
			var seq uint64
			for i, ev := range all {
				versions[ev.AggregateID]++
				if i == 0 || ev.Sequence != all[i-1].Sequence || ev.AggregateID != all[i-1].AggregateID {
					seq++ // a new commit
				}
				if ev.Sequence != seq || ev.Version != versions[ev.AggregateID] {
					t.Errorf("event %d: sequence %d, %s version %d; want sequence %d, version %d", i, ev.Sequence, ev.AggregateID, ev.Version, seq, versions[ev.AggregateID])
				}
			}
		})
	}
}
