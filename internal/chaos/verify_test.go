package chaos

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newTestChecker is a checker on a server of its own, with the event
// stream provisioned (and empty).
func newTestChecker(t *testing.T, rm projections.Projection) (*checker, jetstream.JetStream) {
	t.Helper()
	srv := natstest.RunServer(t)
	nc, js := srv.JetStream(t)
	if err := streams.Provision(testContext(t), js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	c, err := newChecker(nc, 1, rm, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return c, js
}

func event(seq uint64, aggregate string, version uint64, correlation string) streams.Event {
	return streams.Event{AggregateType: "user", AggregateID: aggregate, Version: version, Sequence: seq,
		Metadata: streams.Metadata{CorrelationID: correlation}}
}

func acked(id, aggregate string, seq, version uint64) *Command {
	return &Command{ID: id, Name: cmdUpdate, Aggregate: aggregate, Outcome: Acked,
		Reply: wire.CommandReply{AggregateID: aggregate, Sequence: seq, Version: version}}
}

// Each violation is counted once, and a phase without any is OK: the
// checks can fail.
func TestCheckCommandsCountsEachViolation(t *testing.T) {
	t.Parallel()
	c, _ := newTestChecker(t, projections.Projection{})
	v0 := uint64(0)
	hist := newHistory()
	for _, cmd := range []*Command{
		acked("x-ok", "x-a", 1, 1),
		acked("x-lost", "x-a", 9, 2), // acknowledged; nothing at 9
		acked("x-twice", "x-b", 2, 1),
		{ID: "x-refused", Name: cmdUpdate, Aggregate: "x-b", Outcome: Refused, Status: 409},
		{ID: "x-race-a", Name: cmdCreate, Aggregate: "x-c", Expected: &v0, Pair: 1, Outcome: Acked,
			Reply: wire.CommandReply{Sequence: 5, Version: 1}},
		{ID: "x-race-b", Name: cmdCreate, Aggregate: "x-c", Expected: &v0, Pair: 1, Outcome: Unknown, Settled: Refused},
		{ID: "x-unknown", Name: cmdUpdate, Aggregate: "x-a", Outcome: Unknown, Settled: Acked,
			SettleReply: wire.CommandReply{Duplicate: true, Sequence: 8, Version: 3}},
		// Answered 409 "applied earlier": fine with its event, lost without.
		{ID: "x-earlier", Name: cmdUpdate, Aggregate: "x-e", Outcome: AppliedEarlier, Status: 409},
		{ID: "x-earlier-lie", Name: cmdUpdate, Aggregate: "x-e", Outcome: AppliedEarlier, Status: 409},
	} {
		hist.addCommand(cmd)
	}
	all := []streams.Event{
		event(1, "x-a", 1, "x-ok"),
		event(2, "x-b", 1, "x-twice"),
		event(3, "x-b", 2, "x-twice"),   // applied twice
		event(4, "x-b", 4, "x-refused"), // refused yet written, and version 3 is missing
		event(5, "x-c", 1, "x-race-a"),  // the race's winner
		event(6, "x-c", 2, "x-race-b"),  // and its loser, written too
		event(7, "x-d", 1, "somebody"),  // nobody sent it
		event(8, "x-a", 3, "x-unknown"), // unknown, found applied by the resend
		event(9, "x-e", 1, "x-earlier"),
		event(10, "y-a", 1, "elsewhere"), // another phase's: not counted
	}
	var r Report
	c.checkCommands(testContext(t), "x", hist, all, &r)
	want := Report{Commands: 9, Acked: 4, Refused: 1, Unknown: 2, UnknownApplied: 1, UnknownRefused: 1, AppliedEarlier: 2,
		Lost: 2, AppliedTwice: 1, RefusedButWritten: 1, Races: 1, DoubleWinners: 1, Events: 9, Aggregates: 5,
		VersionGaps: 2, Foreign: 1} // x-a lacks the lost version 2, x-b its version 3
	r.Problems = nil
	if r.Lost != want.Lost || r.AppliedTwice != want.AppliedTwice || r.RefusedButWritten != want.RefusedButWritten ||
		r.DoubleWinners != want.DoubleWinners || r.VersionGaps != want.VersionGaps || r.Foreign != want.Foreign ||
		r.Commands != want.Commands || r.Acked != want.Acked || r.Refused != want.Refused || r.Unknown != want.Unknown ||
		r.UnknownApplied != want.UnknownApplied || r.UnknownRefused != want.UnknownRefused || r.Races != want.Races ||
		r.AppliedEarlier != want.AppliedEarlier ||
		r.Events != want.Events || r.Aggregates != want.Aggregates {
		t.Fatalf("got  %+v\nwant %+v", r, want)
	}
	if r.OK() {
		t.Fatal("a report with violations is OK")
	}

	var clean Report
	good := newHistory()
	good.addCommand(acked("x-ok", "x-a", 1, 1))
	c.checkCommands(testContext(t), "x", good, all[:1], &clean)
	if !clean.OK() || clean.Acked != 1 || len(clean.Problems) != 0 {
		t.Fatalf("a phase without violations: %+v", clean)
	}
}

// count is a read model for the test: how many events an aggregate has.
type count struct {
	N int `json:"n"`
}

func countProjection() projections.Projection {
	return projections.Projection{
		Name:     "counts",
		Subjects: []string{"events.user.>"},
		Handler: projections.JSONHandler[count]{
			KeyOf: func(ev streams.Event) (string, error) { return projections.Key(ev.AggregateID), nil },
			Evolve: func(_ context.Context, _ streams.Event, rec *count) (*count, error) {
				if rec == nil {
					rec = &count{}
				}
				rec.N++
				return rec, nil
			},
		},
	}
}

// The read model is compared with a fresh replay record by record: equal
// when the runner built it, one difference once a record is changed
// behind its back.
func TestCheckReadModelFindsARecordThatDiffersFromAReplay(t *testing.T) {
	t.Parallel()
	rm := countProjection()
	c, js := newTestChecker(t, rm)
	ctx := testContext(t)
	for _, id := range []string{"p-a", "p-b", "p-c"} {
		var at streams.Position
		for range 3 {
			res, err := c.store.Append(ctx, "user", id, at, streams.Event{Type: "user.touched", Data: json.RawMessage(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			at = res.Position()
		}
	}
	live, err := projections.NewRunner(c.nc, projections.Config{}, []projections.Projection{rm})
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Stop(context.Background()) })
	all, err := c.events(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var r Report
	if err := c.checkReadModel(ctx, "p1", all, &r); err != nil {
		t.Fatal(err)
	}
	if r.ReadModelRecords != 3 || r.ReadModelDiffs != 0 {
		t.Fatalf("read model as built: %d records, %d differences: %v", r.ReadModelRecords, r.ReadModelDiffs, r.Problems)
	}

	kv, err := js.KeyValue(ctx, "rm_counts")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "p-b", []byte(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	var tampered Report
	if err := c.checkReadModel(ctx, "p2", all, &tampered); err != nil {
		t.Fatal(err)
	}
	if tampered.ReadModelDiffs != 1 || len(tampered.Problems) != 1 || !strings.Contains(tampered.Problems[0], "record p-b") {
		t.Fatalf("a changed record: %d differences: %v", tampered.ReadModelDiffs, tampered.Problems)
	}
	// The replays are removed: only the read model's bucket is left.
	names := js.KeyValueStoreNames(ctx)
	var buckets []string
	for n := range names.Name() {
		buckets = append(buckets, n)
	}
	for _, b := range buckets {
		if strings.Contains(b, "chaos_replay") {
			t.Errorf("replay bucket %s left behind (buckets: %v)", b, buckets)
		}
	}
}

// A read model that never reaches the end of the stream is a finding
// (how far behind, why), not a comparison, and the stall hook runs.
func TestCheckReadModelReportsAReadModelBehind(t *testing.T) {
	t.Parallel()
	rm := countProjection()
	c, _ := newTestChecker(t, rm)
	c.wait = 2 * time.Second
	stalled := false
	c.onStall = func() { stalled = true }
	ctx := testContext(t)
	if _, err := c.store.Append(ctx, "user", "b-a", streams.Position{}, streams.Event{Type: "user.touched", Data: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	// Nothing runs the projection: its read model stays empty.
	if _, err := projections.NewAdmin(ctx, c.nc, projections.Config{}); err != nil {
		t.Fatal(err)
	}
	all, err := c.events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := c.checkReadModel(ctx, "b1", all, &r); err != nil {
		t.Fatal(err)
	}
	if r.ReadModelBehind != 1 || !stalled || r.OK() || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "counts at checkpoint 0 of 1") {
		t.Fatalf("behind %d, stall hook called %v, problems %v", r.ReadModelBehind, stalled, r.Problems)
	}
}

func TestLongestOutageCountsTheEdges(t *testing.T) {
	t.Parallel()
	h := newHistory()
	t0 := time.Unix(1000, 0)
	for _, s := range []int{2, 3, 9} {
		h.success(t0.Add(time.Duration(s) * time.Second))
	}
	h.success(t0.Add(-time.Hour)) // before the window: ignored
	if got := h.longestOutage(t0, t0.Add(10*time.Second)); got != 6*time.Second {
		t.Fatalf("longest outage %s, want 6s (from 3s to 9s)", got)
	}
	if got := newHistory().longestOutage(t0, t0.Add(10*time.Second)); got != 10*time.Second {
		t.Fatalf("no success at all: %s, want the whole window", got)
	}
}
