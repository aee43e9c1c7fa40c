package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

type fixture struct {
	js    jetstream.JetStream
	store *streams.Store
	cfg   streams.Config
}

func newFixture(t *testing.T, url string, replicas int, opts ...streams.Option) *fixture {
	t.Helper()
	nc := natstest.Connect(t, url)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := streams.DefaultConfig()
	cfg.Replicas = replicas
	return fixtureOn(t, js, cfg, opts...)
}

// fixtureOn provisions cfg through js and returns a store over it.
func fixtureOn(t *testing.T, js jetstream.JetStream, cfg streams.Config, opts ...streams.Option) *fixture {
	t.Helper()
	if err := streams.Provision(ctxT(t), js, cfg); err != nil {
		t.Fatalf("provision: %v", err)
	}
	store, err := streams.NewStore(js, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{js: js, store: store, cfg: cfg}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ev(typ string, data any) streams.Event {
	b, _ := json.Marshal(data)
	return streams.Event{Type: typ, Data: b}
}

func loadAll(t *testing.T, s *streams.Store, typ, id string, after uint64) []streams.Event {
	t.Helper()
	var out []streams.Event
	for e, err := range s.Load(ctxT(t), typ, id, after) {
		if err != nil {
			t.Fatalf("load %s %s: %v", typ, id, err)
		}
		out = append(out, e)
	}
	return out
}

func lastSeq(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	st, err := js.Stream(ctxT(t), streams.DefaultEventStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

func TestAppendWritesEnvelopeHeaders(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := newFixture(t, srv.URL, 1, streams.WithClock(func() time.Time { return at }), streams.WithSource("test-suite"))
	e := ev("user.created", map[string]string{"username": "alice"})
	e.Metadata = streams.Metadata{CorrelationID: "corr-1", CausationID: "cmd-1", UserID: "u-9", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	res, err := f.store.Append(ctxT(t), "user", "u1", streams.Position{}, e)
	if err != nil {
		t.Fatal(err)
	}
	if res.FirstSequence != 1 || res.LastSequence != 1 || res.Version != 1 {
		t.Fatalf("result = %+v", res)
	}
	st, _ := f.js.Stream(ctxT(t), "EVENTS")
	msg, err := st.GetMsg(ctxT(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	// A commit's message carries the id the server deduplicates by, the
	// expectation it checked, and who caused it (for consumers of the
	// stream); the envelope itself is in the body.
	want := map[string]string{
		"Nats-Msg-Id": res.Events[0].ID, "Nats-Expected-Last-Subject-Sequence": "0",
		"Jetflow-Correlation-Id": "corr-1", "Jetflow-Causation-Id": "cmd-1", "Jetflow-User-Id": "u-9", "traceparent": e.Metadata.TraceParent,
	}
	for k, v := range want {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"Jetflow-Event-Type", "Jetflow-Version", "Jetflow-Aggregate-Id", "Jetflow-Occurred-At"} {
		if v := msg.Header.Get(k); v != "" {
			t.Errorf("header %s = %q on a commit: the envelope is in the body", k, v)
		}
	}
	stored, err := streams.DecodeEvents(msg.Subject, msg.Header, msg.Data, msg.Sequence)
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored message decodes to %+v %v", stored, err)
	}
	got, wantEv := stored[0], streams.Event{
		ID: res.Events[0].ID, Type: "user.created", AggregateType: "user", AggregateID: "u1", Version: 1, Schema: 1,
		Data: e.Data, Metadata: streams.Metadata{CorrelationID: "corr-1", CausationID: "cmd-1", UserID: "u-9", Source: "test-suite",
			TraceParent: e.Metadata.TraceParent}, OccurredAt: at, Sequence: 1,
	}
	if !reflect.DeepEqual(got, wantEv) {
		t.Errorf("stored event\n%+v\nwant\n%+v", got, wantEv)
	}
	if msg.Subject != "events.user.u1" {
		t.Errorf("subject = %q", msg.Subject)
	}
	if len(res.Events[0].ID) != 36 || res.Events[0].ID[14] != '7' {
		t.Errorf("event id %q is not a UUIDv7", res.Events[0].ID)
	}
}

func TestConcurrentAppendsOneWins(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		raceOneWinner(t, newFixture(t, natstest.RunServer(t).URL, 1))
	})
	t.Run("cluster-R3", func(t *testing.T) {
		natstest.SkipIfShort(t)
		t.Parallel()
		raceOneWinner(t, newFixture(t, natstest.RunCluster(t).URL, 3))
	})
}

func raceOneWinner(t *testing.T, f *fixture) {
	first, err := f.store.Append(ctxT(t), "order", "o1", streams.Position{}, ev("order.placed", map[string]int{"n": 1}))
	if err != nil {
		t.Fatal(err)
	}
	const writers = 50
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-start
			_, err := f.store.Append(ctxT(t), "order", "o1", first.Position(), ev("order.updated", map[string]int{"writer": i}))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, streams.ErrConcurrencyConflict):
				conflicts.Add(1)
			default:
				t.Errorf("writer %d: unexpected error %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != writers-1 {
		t.Fatalf("wins=%d conflicts=%d, want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
	}
	events := loadAll(t, f.store, "order", "o1", 0)
	if len(events) != 2 || events[1].Version != 2 {
		t.Fatalf("aggregate has %d events (want 2): %+v", len(events), events)
	}
}

func TestConflictErrorCarriesSequences(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	first, err := f.store.Append(ctxT(t), "acct", "a1", streams.Position{}, ev("acct.opened", map[string]int{}), ev("acct.credited", map[string]int{"amount": 5}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.store.Append(ctxT(t), "acct", "a1", first.Position(), ev("acct.credited", map[string]int{"amount": 2}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.store.Append(ctxT(t), "acct", "a1", first.Position(), ev("acct.credited", map[string]int{"amount": 1}))
	var ce *streams.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, streams.ErrConcurrencyConflict) {
		t.Fatalf("err = %v, want a *ConflictError", err)
	}
	if ce.ExpectedSequence != 1 || !ce.Known || ce.ActualSequence != res.LastSequence {
		t.Fatalf("conflict = %+v, want expected 1 actual %d", ce, res.LastSequence)
	}
}

func TestAtomicBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	first, err := f.store.Append(ctx, "cart", "c1", streams.Position{}, ev("cart.created", map[string]int{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Append(ctx, "cart", "c1", first.Position(), ev("cart.item_added", map[string]int{"sku": 1})); err != nil {
		t.Fatal(err)
	}
	before := lastSeq(t, f.js)
	batch := []streams.Event{ev("cart.item_added", map[string]int{"sku": 2}), ev("cart.item_added", map[string]int{"sku": 3}), ev("cart.checked_out", map[string]int{})}
	if _, err := f.store.Append(ctx, "cart", "c1", first.Position(), batch...); !errors.Is(err, streams.ErrConcurrencyConflict) {
		t.Fatalf("stale batch: err = %v, want conflict", err)
	}
	if got := lastSeq(t, f.js); got != before {
		t.Fatalf("stale batch stored something: last seq %d -> %d", before, got)
	}
	events := loadAll(t, f.store, "cart", "c1", 0)
	res, err := f.store.Append(ctx, "cart", "c1", events[len(events)-1].Position(), batch...)
	if err != nil {
		t.Fatal(err)
	}
	if res.LastSequence != res.FirstSequence || res.Version != 5 || res.Events[0].Sequence != res.Events[2].Sequence {
		t.Fatalf("commit result %+v: one sequence for its three events", res)
	}
	events = loadAll(t, f.store, "cart", "c1", 0)
	for i, e := range events {
		if e.Version != uint64(i+1) {
			t.Fatalf("event %d has version %d", i, e.Version)
		}
	}
	if len(events) != 5 {
		t.Fatalf("got %d events, want 5", len(events))
	}
}

func TestLoadReadsOnlyItsAggregateAndPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1, streams.WithPageSize(300))
	ctx := ctxT(t)
	// One long aggregate, written in commits of 1 to 7 events (about 1,250
	// commits: several pages), interleaved with thousands of one-event
	// aggregates written concurrently.
	const long, others = 5000, 2000
	var wg sync.WaitGroup
	wg.Go(func() {
		pos := streams.Position{}
		for c := 0; pos.Version < long; c++ {
			batch := make([]streams.Event, 0, 7)
			for i := range min(c%7+1, long-int(pos.Version)) {
				batch = append(batch, ev("ledger.posted", map[string]uint64{"n": pos.Version + uint64(i) + 1}))
			}
			res, err := f.store.Append(ctx, "ledger", "main", pos, batch...)
			if err != nil {
				t.Errorf("ledger batch: %v", err)
				return
			}
			pos = res.Position()
		}
	})
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < others; i += 8 {
				if _, err := f.store.Append(ctx, "ledger", fmt.Sprintf("side-%d", i), streams.Position{}, ev("ledger.posted", map[string]int{"n": 1})); err != nil {
					t.Errorf("side %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	events := loadAll(t, f.store, "ledger", "main", 0)
	if len(events) != long {
		t.Fatalf("loaded %d events, want %d", len(events), long)
	}
	for i, e := range events {
		if e.AggregateID != "main" || e.Version != uint64(i+1) || (i > 0 && e.Sequence < events[i-1].Sequence) {
			t.Fatalf("event %d out of place: %+v", i, e)
		}
		// Each event keeps its own data after later commits are decoded.
		if want := fmt.Sprintf(`{"n":%d}`, i+1); string(e.Data) != want {
			t.Fatalf("event %d data %s, want %s", i, e.Data, want)
		}
	}
	// A load after a commit's sequence starts at the next commit.
	cut := events[4499].Sequence
	want := 0
	for _, e := range events {
		if e.Sequence > cut {
			want++
		}
	}
	tail := loadAll(t, f.store, "ledger", "main", cut)
	if len(tail) != want || tail[0].Sequence <= cut || tail[0].Version != uint64(long-want+1) {
		t.Fatalf("load after seq %d: %d events (want %d), first %+v", cut, len(tail), want, tail[0])
	}
	if got := loadAll(t, f.store, "ledger", "side-7", 0); len(got) != 1 {
		t.Fatalf("side-7 has %d events", len(got))
	}
	if got := loadAll(t, f.store, "ledger", "nobody", 0); len(got) != 0 {
		t.Fatalf("unknown aggregate loaded %d events", len(got))
	}
	// Early break stops the iteration without error.
	n := 0
	for _, err := range f.store.Load(ctx, "ledger", "main", 0) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 10 {
			break
		}
	}
	var all int
	for e, err := range f.store.ReadAll(ctx, 1, "ledger") {
		if err != nil {
			t.Fatal(err)
		}
		if e.AggregateType != "ledger" {
			t.Fatalf("ReadAll yielded %s", e.AggregateType)
		}
		all++
	}
	if all != long+others {
		t.Fatalf("ReadAll yielded %d, want %d", all, long+others)
	}
}

func TestReadAllOrderAndTypeFilter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	for i := range 30 {
		typ := []string{"user", "order", "user"}[i%3]
		if _, err := f.store.Append(ctx, typ, fmt.Sprintf("x%d", i), streams.Position{}, ev(typ+".created", map[string]int{"i": i})); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []uint64
	for e, err := range f.store.ReadAll(ctx, 5, "user") {
		if err != nil {
			t.Fatal(err)
		}
		if e.AggregateType != "user" {
			t.Fatalf("got %s", e.AggregateType)
		}
		seqs = append(seqs, e.Sequence)
	}
	if len(seqs) != 17 || seqs[0] != 6 {
		t.Fatalf("ReadAll(5, user) = %v", seqs)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("not in stream order: %v", seqs)
		}
	}
}

func TestRetriedAppendIsIdempotent(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		retryAfterLostAck(t, newFixture(t, natstest.RunServer(t).URL, 1))
	})
	t.Run("cluster-R3", func(t *testing.T) {
		natstest.SkipIfShort(t)
		t.Parallel()
		retryAfterLostAck(t, newFixture(t, natstest.RunCluster(t).URL, 3))
	})
}

func retryAfterLostAck(t *testing.T, f *fixture) {
	ctx := ctxT(t)
	one := ev("doc.created", map[string]string{"title": "a"})
	one.ID = streams.NewEventID()
	r1, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, one)
	if err != nil {
		t.Fatal(err)
	}
	r1b, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, one)
	if err != nil {
		t.Fatalf("single retry: %v", err)
	}
	if r1b.LastSequence != r1.LastSequence || r1b.Version != 1 {
		t.Fatalf("single retry result %+v, first %+v", r1b, r1)
	}
	batch := []streams.Event{ev("doc.edited", map[string]int{"rev": 2}), ev("doc.edited", map[string]int{"rev": 3})}
	for i := range batch {
		batch[i].ID = streams.NewEventID()
	}
	r2, err := f.store.Append(ctx, "doc", "d1", r1.Position(), batch...)
	if err != nil {
		t.Fatal(err)
	}
	r2b, err := f.store.Append(ctx, "doc", "d1", r1.Position(), batch...)
	if err != nil {
		t.Fatalf("batch retry: %v", err)
	}
	if r2b.FirstSequence != r2.FirstSequence || r2b.LastSequence != r2.LastSequence || r2b.Version != 3 {
		t.Fatalf("batch retry %+v, first %+v", r2b, r2)
	}
	if n := len(loadAll(t, f.store, "doc", "d1", 0)); n != 3 {
		t.Fatalf("aggregate has %d events after retries, want 3", n)
	}
	// A different event with the same expectation is a real conflict.
	if _, err := f.store.Append(ctx, "doc", "d1", r1.Position(), ev("doc.edited", map[string]int{"rev": 9})); !errors.Is(err, streams.ErrConcurrencyConflict) {
		t.Fatalf("different event: err = %v, want conflict", err)
	}
}

func TestInvalidNamesAreRejectedBeforePublishing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	bad := map[string]string{
		"empty": "", "dot": "a.b", "star": "*", "gt": ">", "star-in": "a*b", "space": "a b",
		"tab": "a\tb", "newline": "a\nb", "nul": "a\x00b", "del": "a\x7fb", "too-long": strings.Repeat("x", 129),
		"bad-utf8": "\xff\xfe",
	}
	for name, id := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := f.store.Append(ctx, "user", id, streams.Position{}, ev("user.created", map[string]int{}))
			if !errors.Is(err, streams.ErrInvalidAggregateID) {
				t.Fatalf("id %q: err = %v, want ErrInvalidAggregateID", id, err)
			}
			_, err = f.store.Append(ctx, id, "u1", streams.Position{}, ev("x.created", map[string]int{}))
			if !errors.Is(err, streams.ErrInvalidAggregateType) {
				t.Fatalf("type %q: err = %v, want ErrInvalidAggregateType", id, err)
			}
			for _, err := range f.store.Load(ctx, "user", id, 0) {
				if !errors.Is(err, streams.ErrInvalidAggregateID) {
					t.Fatalf("load %q: err = %v", id, err)
				}
			}
		})
	}
	if ok := strings.Repeat("x", 128); streams.ValidateAggregateID(ok) != nil {
		t.Fatal("128 bytes must be allowed")
	}
	t.Cleanup(func() {
		if got := lastSeq(t, f.js); got != 0 {
			t.Errorf("stream has %d messages after invalid appends", got)
		}
	})
}

func TestAppendLimitsCheckedBeforeSending(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	many := make([]streams.Event, 1001)
	for i := range many {
		many[i] = ev("x.y", map[string]int{})
	}
	if _, err := f.store.Append(ctx, "x", "1", streams.Position{}, many...); !errors.Is(err, streams.ErrTooManyEvents) {
		t.Fatalf("1001 events: err = %v", err)
	}
	big := streams.Event{Type: "x.big", Data: json.RawMessage(`"` + strings.Repeat("a", 9<<20) + `"`)}
	_, err := f.store.Append(ctx, "x", "1", streams.Position{}, ev("x.y", map[string]int{}), big)
	var tooLarge *streams.PayloadTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Index != 1 {
		t.Fatalf("oversized: err = %v", err)
	}
	if _, err := f.store.Append(ctx, "x", "1", streams.Position{}, streams.Event{Type: "x.y", Data: json.RawMessage(`{bad`)}); !errors.Is(err, streams.ErrInvalidEvent) {
		t.Fatalf("bad json: err = %v", err)
	}
	if _, err := f.store.Append(ctx, "x", "1", streams.Position{}); !errors.Is(err, streams.ErrNoEvents) {
		t.Fatalf("no events: err = %v", err)
	}
	evil := ev("x.y", map[string]int{})
	evil.Metadata.CorrelationID = "a\r\nNats-Msg-Id: forged"
	if _, err := f.store.Append(ctx, "x", "1", streams.Position{}, evil); !errors.Is(err, streams.ErrInvalidEvent) {
		t.Fatalf("header injection: err = %v", err)
	}
	if got := lastSeq(t, f.js); got != 0 {
		t.Fatalf("stream has %d messages", got)
	}
}

func TestAppendAfterSequenceLooksUpVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	r, err := f.store.Append(ctx, "t", "1", streams.Position{}, ev("t.a", 1), ev("t.b", 2))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := f.store.Append(ctx, "t", "1", streams.Position{Sequence: r.LastSequence}, ev("t.c", 3))
	if err != nil || r2.Version != 3 {
		t.Fatalf("append after sequence only: %+v %v", r2, err)
	}
}

func TestUpcastersApplyOnLoad(t *testing.T) {
	t.Parallel()
	up := streams.NewUpcasters()
	// schema 1 {"name":"Ada Lovelace"} -> 2 {"first":"Ada","last":"Lovelace"} -> 3 adds "display".
	must(t, up.Register("user.created", 1, func(d json.RawMessage) (json.RawMessage, error) {
		var v1 struct{ Name string }
		if err := json.Unmarshal(d, &v1); err != nil {
			return nil, err
		}
		first, last, _ := strings.Cut(v1.Name, " ")
		return json.Marshal(map[string]string{"first": first, "last": last})
	}))
	must(t, up.Register("user.created", 2, func(d json.RawMessage) (json.RawMessage, error) {
		var v2 map[string]string
		if err := json.Unmarshal(d, &v2); err != nil {
			return nil, err
		}
		v2["display"] = v2["first"] + " " + v2["last"]
		return json.Marshal(v2)
	}))
	if err := up.Register("user.created", 1, func(d json.RawMessage) (json.RawMessage, error) { return d, nil }); !errors.Is(err, streams.ErrUpcast) {
		t.Fatalf("duplicate registration: %v", err)
	}
	f := newFixture(t, natstest.RunServer(t).URL, 1, streams.WithUpcasters(up))
	old := ev("user.created", map[string]string{"name": "Ada Lovelace"})
	current := ev("user.created", map[string]string{"first": "Grace", "last": "Hopper", "display": "Grace Hopper"})
	current.Schema = 3
	if _, err := f.store.Append(ctxT(t), "user", "ada", streams.Position{}, old); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Append(ctxT(t), "user", "grace", streams.Position{}, current); err != nil {
		t.Fatal(err)
	}
	got := loadAll(t, f.store, "user", "ada", 0)[0]
	var shape map[string]string
	must(t, json.Unmarshal(got.Data, &shape))
	if got.Schema != 3 || shape["first"] != "Ada" || shape["last"] != "Lovelace" || shape["display"] != "Ada Lovelace" {
		t.Fatalf("upcast event: schema %d data %s", got.Schema, got.Data)
	}
	if g := loadAll(t, f.store, "user", "grace", 0)[0]; g.Schema != 3 || string(g.Data) != string(current.Data) {
		t.Fatalf("current-schema event changed: %d %s", g.Schema, g.Data)
	}
}

func TestDecodeLegacyMessageNamesTheProblem(t *testing.T) {
	t.Parallel()
	good := func() nats.Header {
		return nats.Header{
			"Nats-Msg-Id": {"id-1"}, "Jetflow-Event-Type": {"user.created"}, "Jetflow-Aggregate-Type": {"user"},
			"Jetflow-Aggregate-Id": {"u1"}, "Jetflow-Version": {"3"}, "Jetflow-Schema": {"2"},
			"Jetflow-Occurred-At": {"2026-01-02T03:04:05.123Z"},
		}
	}
	if evs, err := streams.DecodeEvents("events.user.u1", good(), []byte(`{"a":1}`), 7); err != nil || len(evs) != 1 || evs[0].Version != 3 || evs[0].Schema != 2 || evs[0].Sequence != 7 {
		t.Fatalf("good message: %+v %v", evs, err)
	}
	cases := []struct {
		name, key, value, subject, data, want string
	}{
		{"no id", "Nats-Msg-Id", "", "", "", "Nats-Msg-Id"},
		{"bad version", "Jetflow-Version", "x", "", "", "Jetflow-Version"},
		{"zero version", "Jetflow-Version", "0", "", "", "Jetflow-Version"},
		{"bad schema", "Jetflow-Schema", "-1", "", "", "Jetflow-Schema"},
		{"bad time", "Jetflow-Occurred-At", "yesterday", "", "", "Jetflow-Occurred-At"},
		{"bad id", "Jetflow-Aggregate-Id", "a.b", "", "", "Jetflow-Aggregate-Id"},
		{"wrong subject", "", "", "events.user.u2", "", "subject"},
		{"bad json", "", "", "", `{"a":`, "JSON"},
	}
	for _, c := range cases {
		h := good()
		if c.key != "" {
			h.Set(c.key, c.value)
		}
		subject, data := "events.user.u1", `{"a":1}`
		if c.subject != "" {
			subject = c.subject
		}
		if c.data != "" {
			data = c.data
		}
		_, err := streams.DecodeEvents(subject, h, []byte(data), 1)
		if !errors.Is(err, streams.ErrMalformedEvent) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one naming %s", c.name, err, c.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runServerWithConf starts a server from a nats.conf body on a free port.
func runServerWithConf(t *testing.T, conf string) *natstest.Server {
	t.Helper()
	file := filepath.Join(t.TempDir(), "nats.conf")
	must(t, os.WriteFile(file, []byte(conf), 0o600))
	return natstest.RunServerWithConfig(t, natsserver.Config{ConfigFile: file, Listen: "127.0.0.1:-1"})
}

// nats.go trims the blanks around header values on the wire: an id " "
// would be stored as no id at all, and the aggregate would never load again.
func TestBlankEventIDIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	for _, id := range []string{" ", "  ", "\t"} {
		e := ev("doc.created", map[string]int{"n": 1})
		e.ID = id
		_, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, e)
		if !errors.Is(err, streams.ErrInvalidEvent) || !strings.Contains(err.Error(), "id") {
			t.Errorf("id %q: err = %v, want ErrInvalidEvent naming the id", id, err)
		}
	}
	if got := lastSeq(t, f.js); got != 0 {
		t.Fatalf("stream has %d messages after refused appends", got)
	}
	if got := loadAll(t, f.store, "doc", "d1", 0); len(got) != 0 {
		t.Fatalf("aggregate has %d events", len(got))
	}
}

// A value with blanks around it would be stored trimmed, unlike what the
// append reports, and a retry of it would no longer match its own event.
func TestValuesWithSurroundingBlanksAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	cases := map[string]func(*streams.Event){
		"id":             func(e *streams.Event) { e.ID = " " + streams.NewEventID() },
		"id ":            func(e *streams.Event) { e.ID = streams.NewEventID() + "\t" },
		"type":           func(e *streams.Event) { e.Type = "doc.created " },
		"correlation id": func(e *streams.Event) { e.Metadata.CorrelationID = " corr" },
		"causation id":   func(e *streams.Event) { e.Metadata.CausationID = "cmd " },
		"user id":        func(e *streams.Event) { e.Metadata.UserID = " " },
		"source":         func(e *streams.Event) { e.Metadata.Source = " api" },
		"traceparent": func(e *streams.Event) {
			e.Metadata.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 "
		},
	}
	for name, spoil := range cases {
		e := ev("doc.created", map[string]int{"n": 1})
		spoil(&e)
		_, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, e)
		if field := strings.TrimSpace(name); !errors.Is(err, streams.ErrInvalidEvent) || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want ErrInvalidEvent naming %s", name, err, field)
		}
	}
	if got := lastSeq(t, f.js); got != 0 {
		t.Fatalf("stream has %d messages after refused appends", got)
	}
	// Blanks inside a value arrive as sent.
	e := ev("doc.created", map[string]int{"n": 1})
	e.ID, e.Metadata.UserID = "id with blanks "+streams.NewEventID(), "Ada Lovelace"
	r, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, e)
	if err != nil {
		t.Fatal(err)
	}
	got := loadAll(t, f.store, "doc", "d1", 0)
	if len(got) != 1 || got[0].ID != e.ID || got[0].ID != r.Events[0].ID || got[0].Metadata.UserID != "Ada Lovelace" {
		t.Fatalf("stored %+v, appended %+v", got, r.Events)
	}
	if _, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, e); err != nil {
		t.Fatalf("retry of a stored append: %v", err)
	}
	if _, err := streams.NewStore(f.js, f.cfg, streams.WithSource("api ")); err == nil || !strings.Contains(err.Error(), "source") {
		t.Fatalf("store with source %q: err = %v, want one naming the source", "api ", err)
	}
}

// RFC 3339 has four-digit years: a time outside 0000..9999 would be
// written in a form no reader parses back.
func TestOccurredAtOutsideFourDigitYearsIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	for i, at := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(0, 1, 1, 0, 30, 0, 0, time.FixedZone("east", 3600)), // year -1 in UTC
	} {
		e := ev("doc.created", map[string]int{"n": 1})
		e.OccurredAt = at
		_, err := f.store.Append(ctx, "doc", fmt.Sprint("bad", i), streams.Position{}, e)
		if !errors.Is(err, streams.ErrInvalidEvent) || !strings.Contains(err.Error(), "occurred_at") {
			t.Errorf("occurred-at %v: err = %v, want ErrInvalidEvent naming occurred_at", at, err)
		}
	}
	if got := lastSeq(t, f.js); got != 0 {
		t.Fatalf("stream has %d messages after refused appends", got)
	}
	for i, at := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 30, 0, 0, time.FixedZone("east", 3600)), // year 9999 in UTC
	} {
		e := ev("doc.created", map[string]int{"n": 1})
		e.OccurredAt = at
		id := fmt.Sprint("edge", i)
		if _, err := f.store.Append(ctx, "doc", id, streams.Position{}, e); err != nil {
			t.Fatalf("occurred-at %v: %v", at, err)
		}
		if got := loadAll(t, f.store, "doc", id, 0); len(got) != 1 || !got[0].OccurredAt.Equal(at) {
			t.Fatalf("occurred-at %v loaded as %+v", at, got)
		}
	}
}

// The server refuses a batch holding one id twice without saying why; it
// is the caller's mistake, not a conflict to retry.
func TestDuplicateIDsInOneAppendAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	a, b, c := ev("doc.created", map[string]int{"n": 1}), ev("doc.edited", map[string]int{"n": 2}), ev("doc.edited", map[string]int{"n": 3})
	a.ID = streams.NewEventID()
	c.ID = a.ID
	_, err := f.store.Append(ctxT(t), "doc", "d1", streams.Position{}, a, b, c)
	if errors.Is(err, streams.ErrConcurrencyConflict) || !errors.Is(err, streams.ErrInvalidEvent) || !strings.Contains(err.Error(), a.ID) {
		t.Fatalf("err = %v, want ErrInvalidEvent naming %s", err, a.ID)
	}
	if got := lastSeq(t, f.js); got != 0 {
		t.Fatalf("stream has %d messages", got)
	}
}

// An id stored anywhere but right after the append's position is not the
// append's own earlier attempt: nothing is stored, and a reload would not
// help, so it is a DuplicateEventError, not a conflict.
func TestReusedEventIDIsADuplicateNotAConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	first, second := ev("doc.created", map[string]int{"n": 1}), ev("doc.edited", map[string]int{"n": 2})
	first.ID, second.ID = streams.NewEventID(), streams.NewEventID()
	r1, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, first)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := f.store.Append(ctx, "doc", "d1", r1.Position(), second)
	if err != nil {
		t.Fatal(err)
	}
	before := lastSeq(t, f.js)
	fresh := ev("doc.edited", map[string]int{"n": 3})
	fresh.ID = streams.NewEventID()
	cases := []struct {
		name   string
		id     string
		after  streams.Position
		events []streams.Event
		want   streams.DuplicateEventError
	}{
		{"another aggregate", "d2", streams.Position{}, []streams.Event{first},
			streams.DuplicateEventError{AggregateType: "doc", AggregateID: "d2", EventID: first.ID, Sequence: r1.LastSequence}},
		{"earlier on this aggregate", "d1", r2.Position(), []streams.Event{first},
			streams.DuplicateEventError{AggregateType: "doc", AggregateID: "d1", EventID: first.ID, Sequence: r1.LastSequence, Version: 1}},
		// A commit is deduplicated by its first event's id.
		{"first of a commit", "d3", streams.Position{}, []streams.Event{second, fresh},
			streams.DuplicateEventError{AggregateType: "doc", AggregateID: "d3", EventID: second.ID, Sequence: r2.LastSequence}},
	}
	for _, c := range cases {
		_, err := f.store.Append(ctx, "doc", c.id, c.after, c.events...)
		var de *streams.DuplicateEventError
		if !errors.As(err, &de) || !errors.Is(err, streams.ErrDuplicateEventID) || errors.Is(err, streams.ErrConcurrencyConflict) {
			t.Errorf("%s: err = %v, want a *DuplicateEventError and no conflict", c.name, err)
			continue
		}
		if *de != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, *de, c.want)
		}
	}
	if got := lastSeq(t, f.js); got != before {
		t.Fatalf("duplicates stored something: last sequence %d -> %d", before, got)
	}
	// Right after its position, the same events are a retry: success.
	if r, err := f.store.Append(ctx, "doc", "d1", r1.Position(), second); err != nil || r.LastSequence != r2.LastSequence {
		t.Fatalf("retry: %+v %v", r, err)
	}
}

// A version without a sequence describes no aggregate; taken as new, its
// first event would be stored with version 6.
func TestVersionWithoutSequenceIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	_, err := f.store.Append(ctxT(t), "doc", "d1", streams.Position{Version: 5}, ev("doc.created", map[string]int{}))
	if !errors.Is(err, streams.ErrInvalidPosition) {
		t.Fatalf("err = %v, want ErrInvalidPosition", err)
	}
	if got := lastSeq(t, f.js); got != 0 {
		t.Fatalf("stream has %d messages", got)
	}
}

func TestLoadAfterTheLastPossibleSequenceIsEmpty(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	if _, err := f.store.Append(ctxT(t), "doc", "d1", streams.Position{}, ev("doc.created", map[string]int{})); err != nil {
		t.Fatal(err)
	}
	if got := loadAll(t, f.store, "doc", "d1", math.MaxUint64); len(got) != 0 {
		t.Fatalf("Load after MaxUint64 yielded %d events from sequence %d", len(got), got[0].Sequence)
	}
	if got := loadAll(t, f.store, "doc", "d1", math.MaxUint64-1); len(got) != 0 {
		t.Fatalf("Load after MaxUint64-1 yielded %d events", len(got))
	}
}

// Many concurrent multi-event commits are ordinary load and must all
// succeed (with atomic batches the server kept at most 50 open per stream).
func TestConcurrentBatchAppendsToManyAggregates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx := ctxT(t)
	const writers, each = 200, 2
	var wg sync.WaitGroup
	var failed atomic.Int32
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			for i := range each {
				_, err := f.store.Append(ctx, "cart", fmt.Sprintf("w%d-%d", w, i), streams.Position{},
					ev("cart.created", map[string]int{}), ev("cart.item_added", map[string]int{"sku": i}))
				if err != nil && failed.Add(1) == 1 {
					t.Errorf("writer %d: %v", w, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d two-event appends to new aggregates failed", n, writers*each)
	}
	if got := lastSeq(t, f.js); got != writers*each {
		t.Fatalf("stream holds %d commits, want %d", got, writers*each)
	}
	n := 0
	for _, err := range f.store.ReadAll(ctx, 0, "cart") {
		must(t, err)
		n++
	}
	if n != 2*writers*each {
		t.Fatalf("stream holds %d events, want %d", n, 2*writers*each)
	}
}

// logHook hands the store's log records to fn, synchronously.
type logHook func(slog.Record)

func (h logHook) Enabled(context.Context, slog.Level) bool      { return true }
func (h logHook) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h logHook) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h logHook) WithGroup(string) slog.Handler                 { return h }

// A reply that never comes (here a denied direct get; a reply lost over a
// reconnect looks the same) must not block a Load whose context has no
// deadline: JetStream's default timeout bounds it, and a closed connection
// ends it at once.
func TestLoadWithoutDeadlineEnds(t *testing.T) {
	t.Parallel()
	srv := runServerWithConf(t, `authorization {
  users = [ { user: app, password: app, permissions: { publish: { deny: ["$JS.API.DIRECT.GET.>"] } } } ]
}
`)
	url := strings.Replace(srv.URL, "nats://", "nats://app:app@", 1)
	load := func(f *fixture) <-chan error {
		done := make(chan error, 1)
		go func() {
			var last error
			for _, err := range f.store.Load(context.Background(), "doc", "d1", 0) {
				last = err
			}
			done <- last
		}()
		return done
	}
	wait := func(t *testing.T, done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-ctxT(t).Done():
			t.Fatal("Load with a context without deadline never returned")
			return nil
		}
	}
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		js, err := jetstream.New(natstest.Connect(t, url), jetstream.WithDefaultTimeout(200*time.Millisecond))
		must(t, err)
		f := fixtureOn(t, js, streams.DefaultConfig())
		if _, err := f.store.Append(ctxT(t), "doc", "d1", streams.Position{}, ev("doc.created", map[string]int{})); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, load(f)); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "200ms") {
			t.Fatalf("err = %v, want a deadline naming the 200ms default timeout", err)
		}
	})
	t.Run("connection closed", func(t *testing.T) {
		t.Parallel()
		denied := make(chan struct{}, 1)
		nc := natstest.Connect(t, url, nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {
			select {
			case denied <- struct{}{}:
			default:
			}
		}))
		js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(time.Hour))
		must(t, err)
		f := fixtureOn(t, js, streams.DefaultConfig())
		done := load(f)
		select {
		case <-denied: // the request is out and its reply will never come
		case <-ctxT(t).Done():
			t.Fatal("the direct get was never denied")
		}
		nc.Close()
		if err := wait(t, done); !errors.Is(err, nats.ErrConnectionClosed) {
			t.Fatalf("err = %v, want ErrConnectionClosed", err)
		}
	})
}
