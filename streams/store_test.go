package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
	want := map[string]string{
		"Nats-Msg-Id":            res.Events[0].ID,
		"Jetflow-Event-Type":     "user.created",
		"Jetflow-Aggregate-Type": "user",
		"Jetflow-Aggregate-Id":   "u1",
		"Jetflow-Version":        "1",
		"Jetflow-Schema":         "1",
		"Jetflow-Correlation-Id": "corr-1",
		"Jetflow-Causation-Id":   "cmd-1",
		"Jetflow-User-Id":        "u-9",
		"Jetflow-Source":         "test-suite",
		"Jetflow-Occurred-At":    "2026-01-02T03:04:05Z",
		"traceparent":            e.Metadata.TraceParent,
	}
	for k, v := range want {
		if got := msg.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
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
	res, err := f.store.Append(ctxT(t), "acct", "a1", streams.Position{}, ev("acct.opened", map[string]int{}), ev("acct.credited", map[string]int{"amount": 5}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.store.Append(ctxT(t), "acct", "a1", streams.Position{Sequence: 1, Version: 1}, ev("acct.credited", map[string]int{"amount": 1}))
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
	if res.LastSequence-res.FirstSequence != 2 || res.Version != 5 {
		t.Fatalf("batch result %+v", res)
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
	// One long aggregate, written in full batches, interleaved with
	// thousands of one-event aggregates written concurrently.
	const long, others = 5000, 2000
	var wg sync.WaitGroup
	wg.Go(func() {
		pos := streams.Position{}
		for pos.Version < long {
			batch := make([]streams.Event, 0, 1000)
			for i := range 1000 {
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
		if e.AggregateID != "main" || e.Version != uint64(i+1) || (i > 0 && e.Sequence <= events[i-1].Sequence) {
			t.Fatalf("event %d out of place: %+v", i, e)
		}
	}
	tail := loadAll(t, f.store, "ledger", "main", events[4499].Sequence)
	if len(tail) != 500 || tail[0].Version != 4501 {
		t.Fatalf("load after seq: %d events, first version %d", len(tail), tail[0].Version)
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

func TestDecodeMessageNamesTheProblem(t *testing.T) {
	t.Parallel()
	good := func() nats.Header {
		return nats.Header{
			"Nats-Msg-Id": {"id-1"}, "Jetflow-Event-Type": {"user.created"}, "Jetflow-Aggregate-Type": {"user"},
			"Jetflow-Aggregate-Id": {"u1"}, "Jetflow-Version": {"3"}, "Jetflow-Schema": {"2"},
			"Jetflow-Occurred-At": {"2026-01-02T03:04:05.123Z"},
		}
	}
	if e, err := streams.DecodeMessage("events.user.u1", good(), []byte(`{"a":1}`), 7); err != nil || e.Version != 3 || e.Schema != 2 || e.Sequence != 7 {
		t.Fatalf("good message: %+v %v", e, err)
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
		_, err := streams.DecodeMessage(subject, h, []byte(data), 1)
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
