package projections_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// appendCommit appends one commit of the notes to thing/id.
func (e *env) appendCommit(t *testing.T, id string, notes ...string) uint64 {
	t.Helper()
	events := make([]streams.Event, len(notes))
	for i, n := range notes {
		b, _ := json.Marshal(note{Note: n})
		events[i] = streams.Event{Type: "thing.noted", Data: b}
	}
	res, err := e.store.Append(ctxT(t), "thing", id, e.position(t, id), events...)
	if err != nil {
		t.Fatal(err)
	}
	return res.LastSequence
}

// A commit is applied whole: its events all reach the record, in order,
// once, also when several change the same record.
func TestACommitIsAppliedWhole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := &counterHandler{}
	r := e.startRunner(t, e.nc, counterProjection(h))
	e.appendNotes(t, "a", "one")
	last := e.appendCommit(t, "a", "two", "three", "four")
	waitFor(t, "the commit applied", func() bool { return status(t, r, "counters").LastApplied >= last })
	c, ok := e.record(t, "rm_counters", "a")
	if !ok || c.Count != 4 || fmt.Sprint(c.Notes) != "[one two three four]" {
		t.Fatalf("record %+v %v, want the four notes in order", c, ok)
	}
}

// A handler that fails in the middle of a commit leaves no part of it in
// the read model: the projection stops at the commit, and once the cause
// is fixed the whole commit is applied, each of its events once.
func TestAFailureInACommitLeavesNoPartOfIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := &counterHandler{}
	h.setPoisoned(true)
	r := e.startRunner(t, e.nc, counterProjection(h))
	e.appendNotes(t, "a", "before")
	commit := e.appendCommit(t, "a", "first", "poison", "third")
	waitFor(t, "failed at the commit", func() bool {
		s := status(t, r, "counters")
		return s.State == projections.StateFailed && s.Failure != nil && s.Failure.Sequence == commit
	})
	if f := status(t, r, "counters").Failure; f.Type != "thing.noted" {
		t.Fatalf("failure %+v, want the failing event's type", f)
	}
	// What the read model holds stops before the commit.
	time.Sleep(100 * time.Millisecond)
	if c, _ := e.record(t, "rm_counters", "a"); c.Count != 1 || fmt.Sprint(c.Notes) != "[before]" {
		t.Fatalf("record %+v: part of the failed commit was applied", c)
	}
	admin, err := projections.NewAdmin(ctxT(t), e.nc, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.setPoisoned(false)
	if _, err := admin.Resume(ctxT(t), "counters"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the commit applied", func() bool { return status(t, r, "counters").LastApplied >= commit })
	if c, _ := e.record(t, "rm_counters", "a"); c.Count != 4 || fmt.Sprint(c.Notes) != "[before first poison third]" {
		t.Fatalf("record %+v, want the commit applied once, whole", c)
	}
}

// A stream written before commits (one message an event, the envelope in
// headers) projects as before, and so do the commits written after it.
func TestEventsWrittenBeforeCommitsProject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var pos streams.Position
	for v, n := range []string{"old-1", "old-2"} {
		b, _ := json.Marshal(note{Note: n})
		seq := natstest.PublishLegacy(t, e.js, natstest.LegacyEvent{
			Subject: "events.thing.a", ID: fmt.Sprintf("legacy-%d", v), Type: "thing.noted", AggregateType: "thing", AggregateID: "a",
			Version: uint64(v + 1), Data: b, After: pos.Sequence,
		})
		pos = streams.Position{Sequence: seq, Version: uint64(v + 1)}
	}
	last := e.appendCommit(t, "a", "new-1", "new-2")
	r := e.startRunner(t, e.nc, counterProjection(&counterHandler{}))
	waitFor(t, "everything applied", func() bool { return status(t, r, "counters").LastApplied >= last })
	if c, _ := e.record(t, "rm_counters", "a"); fmt.Sprint(c.Notes) != "[old-1 old-2 new-1 new-2]" {
		t.Fatalf("record %+v", c)
	}
}
