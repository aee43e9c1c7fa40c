package streams_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// legacyHistory writes n events of aggregate doc/id the way jetflow stored
// them before commits (one message each, the envelope in headers) and
// returns the last one's position.
func legacyHistory(t *testing.T, f *fixture, id string, n int) streams.Position {
	t.Helper()
	var pos streams.Position
	for v := 1; v <= n; v++ {
		seq := natstest.PublishLegacy(t, f.js, natstest.LegacyEvent{
			Subject: "events.doc." + id, ID: fmt.Sprintf("legacy-%s-%d", id, v), Type: "doc.edited",
			AggregateType: "doc", AggregateID: id, Version: uint64(v), Schema: 1,
			OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), CorrelationID: "corr-old", Source: "jetflow",
			Data: []byte(fmt.Sprintf(`{"v":%d}`, v)), After: pos.Sequence,
		})
		pos = streams.Position{Sequence: seq, Version: uint64(v)}
	}
	return pos
}

// A stream written before commits keeps loading: an aggregate whose first
// events are one message each, and whose later events are commits, loads
// whole and in order, from the start and from any of its positions, and
// new commits append after the old events.
func TestEventsWrittenBeforeCommitsStillLoad(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1, streams.WithPageSize(4))
	ctx := ctxT(t)
	pos := legacyHistory(t, f, "d1", 5)
	legacyHistory(t, f, "other", 2)
	for i := range 3 {
		res, err := f.store.Append(ctx, "doc", "d1", pos,
			ev("doc.edited", map[string]int{"v": int(pos.Version) + 1}), ev("doc.edited", map[string]int{"v": int(pos.Version) + 2}))
		if err != nil {
			t.Fatalf("commit %d after the old events: %v", i, err)
		}
		pos = res.Position()
	}
	all := loadAll(t, f.store, "doc", "d1", 0)
	if len(all) != 11 {
		t.Fatalf("loaded %d events, want 5 old and 6 new", len(all))
	}
	for i, e := range all {
		var d struct{ V int }
		if err := json.Unmarshal(e.Data, &d); err != nil || e.Version != uint64(i+1) || d.V != i+1 || e.AggregateID != "d1" {
			t.Fatalf("event %d: %+v (data %s)", i, e, e.Data)
		}
		if i < 5 && (e.ID != fmt.Sprintf("legacy-d1-%d", i+1) || e.Metadata.CorrelationID != "corr-old") {
			t.Fatalf("old event %d lost its envelope: %+v", i, e)
		}
		if i > 0 && e.Sequence < all[i-1].Sequence {
			t.Fatalf("event %d out of order: %+v", i, e)
		}
	}
	// From every position in the history, the rest of it.
	for _, from := range all {
		rest := loadAll(t, f.store, "doc", "d1", from.Sequence)
		want := 0
		for _, e := range all {
			if e.Sequence > from.Sequence {
				want++
			}
		}
		if len(rest) != want || (want > 0 && rest[0].Sequence <= from.Sequence) {
			t.Fatalf("after sequence %d: %d events, want %d", from.Sequence, len(rest), want)
		}
	}
	// A stale position among the old events is still a conflict.
	if _, err := f.store.Append(ctx, "doc", "d1", all[2].Position(), ev("doc.edited", map[string]int{})); err == nil {
		t.Fatal("an append at an old, stale position succeeded")
	}
	// ReadAll reads both formats in stream order.
	n := 0
	for e, err := range f.store.ReadAll(ctx, 0, "doc") {
		must(t, err)
		if e.AggregateID == "d1" {
			n++
		}
	}
	if n != 11 {
		t.Fatalf("read all yielded %d of d1's events, want 11", n)
	}
}

// A commit between old events and commits that does not follow the one
// before (here: a commit written at a version the aggregate is not at,
// which only a writer other than the store can produce) is not read past
// silently: the load falls back to reading headers and yields what is
// stored, so the repository, which checks versions, refuses the history.
func TestALoadWithABrokenChainReadsWhatIsStored(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	first, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, ev("doc.created", map[string]int{}))
	must(t, err)
	// A commit that claims version 5 right after version 1.
	bad, err := streams.PrepareAppend(streams.AppendDefaults{Now: time.Now()}, "doc", "d1", streams.Position{Sequence: first.LastSequence, Version: 4}, []streams.Event{ev("doc.edited", map[string]int{})})
	must(t, err)
	body, err := streams.EncodeCommit(first.LastSequence, bad)
	must(t, err)
	if _, err := f.js.Publish(ctx, "events.doc.d1", body); err != nil {
		t.Fatal(err)
	}
	_, err = f.store.Append(ctx, "doc", "d1", streams.Position{Sequence: first.LastSequence + 1, Version: 5}, ev("doc.edited", map[string]int{}))
	must(t, err)
	all := loadAll(t, f.store, "doc", "d1", 0)
	if len(all) != 3 || all[0].Version != 1 || all[1].Version != 5 || all[2].Version != 6 {
		t.Fatalf("loaded %+v, want versions 1, 5, 6 as stored", all)
	}
}

// directGetSpy records the batched direct gets the server is asked for.
// Its subscription is a channel, filled by the connection's reader before
// it reads the PONG a Flush waits for: after a Flush every request the
// server forwarded is in it (a callback might not have run yet).
func directGetSpy(t *testing.T, url string) func() []map[string]any {
	t.Helper()
	nc := natstest.Connect(t, url)
	ch := make(chan *nats.Msg, 1024)
	if _, err := nc.ChanSubscribe("$JS.API.DIRECT.GET.>", ch); err != nil {
		t.Fatal(err)
	}
	must(t, nc.Flush())
	return func() []map[string]any {
		must(t, nc.Flush())
		var out []map[string]any
		for {
			select {
			case m := <-ch:
				var r map[string]any
				if json.Unmarshal(m.Data, &r) == nil {
					out = append(out, r)
				}
			default:
				return out
			}
		}
	}
}

// A load of commits asks the server for their bodies only, one request a
// page; one that meets an event written before commits asks again, with
// headers, from the last commit it yielded.
func TestALoadOfCommitsReadsBodiesOnly(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	f := newFixture(t, srv.URL, 1)
	ctx := ctxT(t)
	var pos streams.Position
	for range 5 {
		res, err := f.store.Append(ctx, "doc", "new", pos, ev("doc.edited", map[string]int{}), ev("doc.edited", map[string]int{}))
		must(t, err)
		pos = res.Position()
	}
	legacyHistory(t, f, "old", 3)
	spy := directGetSpy(t, srv.URL)
	spy()
	if got := loadAll(t, f.store, "doc", "new", 0); len(got) != 10 {
		t.Fatalf("loaded %d events", len(got))
	}
	reqs := spy()
	if len(reqs) != 1 || reqs[0]["no_hdr"] != true {
		t.Fatalf("a load of five commits asked %v, want one request of bodies only", reqs)
	}
	if got := loadAll(t, f.store, "doc", "old", 0); len(got) != 3 {
		t.Fatalf("loaded %d old events", len(got))
	}
	reqs = spy()
	if len(reqs) != 2 || reqs[0]["no_hdr"] != true || reqs[1]["no_hdr"] == true {
		t.Fatalf("a load of old events asked %v, want bodies first, then headers", reqs)
	}
}
