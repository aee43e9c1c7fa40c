package projections_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
)

// TestFailedHandlerStopsThenSkipAndResume: a handler failing on one event
// stops the projection in the failed state naming that event (nothing
// after it is applied); skip moves past it, and after a fix, resume
// retries and applies.
func TestFailedHandlerStopsThenSkipAndResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := &counterHandler{poisoned: true}
	p := counterProjection(h)
	r := e.startRunner(t, e.nc, p)
	admin, err := projections.NewAdmin(ctxT(t), e.nc, e.cfg)
	if err != nil {
		t.Fatal(err)
	}

	e.appendNotes(t, "a", "one", "two")
	poison := e.appendNotes(t, "a", "poison")
	after := e.appendNotes(t, "b", "three")

	waitFor(t, "state failed", func() bool { return status(t, r, "counters").State == projections.StateFailed })
	s := status(t, r, "counters")
	if s.Failure == nil || s.Failure.Sequence != poison || s.Failure.Type != "thing.noted" || s.Failure.Error != "poisoned note" {
		t.Fatalf("failure %+v, want sequence %d, type thing.noted, error poisoned note", s.Failure, poison)
	}
	if s.LastApplied != poison-1 {
		t.Fatalf("last applied %d, want %d (everything before the failing event)", s.LastApplied, poison-1)
	}
	if c, _ := e.record(t, "rm_counters", "a"); c.Count != 2 {
		t.Fatalf("a = %+v before the poison, want 2 events", c)
	}
	if _, ok := e.record(t, "rm_counters", "b"); ok {
		t.Fatal("an event after the failing one was applied")
	}
	// The failure is visible to operators through the meta bucket too.
	waitFor(t, "reported failure", func() bool {
		rep, err := admin.Report(ctxT(t), "counters")
		return err == nil && rep.Active.Status != nil && rep.Active.Status.State == projections.StateFailed &&
			rep.Active.Status.Failure != nil && rep.Active.Status.Failure.Sequence == poison && rep.Active.AckFloor == poison-1
	})

	if _, err := admin.Skip(ctxT(t), "counters", poison); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "skip applied", func() bool { return status(t, r, "counters").LastApplied >= after })
	s = status(t, r, "counters")
	if s.State != projections.StateRunning || !slices.Contains(s.Skipped, poison) {
		t.Fatalf("after skip: %+v", s)
	}
	if c, _ := e.record(t, "rm_counters", "a"); c.Count != 2 || slices.Contains(c.Notes, "poison") {
		t.Fatalf("a = %+v: the skipped event was applied", c)
	}
	if c, _ := e.record(t, "rm_counters", "b"); c.Count != 1 {
		t.Fatalf("b = %+v", c)
	}

	// Second failure: fixed in place, then resumed.
	poison2 := e.appendNotes(t, "c", "poison")
	waitFor(t, "second failure", func() bool {
		s := status(t, r, "counters")
		return s.State == projections.StateFailed && s.Failure != nil && s.Failure.Sequence == poison2
	})
	h.setPoisoned(false)
	if _, err := admin.Resume(ctxT(t), "counters"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "resume applied", func() bool { return status(t, r, "counters").LastApplied >= poison2 })
	if c, _ := e.record(t, "rm_counters", "c"); c.Count != 1 || c.Notes[0] != "poison" {
		t.Fatalf("c = %+v after resume", c)
	}
	if s := status(t, r, "counters"); s.State != projections.StateRunning || s.Failure != nil {
		t.Fatalf("after resume: %+v", s)
	}
}

// TestRestartDoesNotReapply: a second runner start resumes from the
// checkpoint; records hold the sequence of their last event, so a
// redelivered event is skipped, never applied twice.
func TestRestartDoesNotReapply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := &counterHandler{}
	p := counterProjection(h)
	last := e.appendNotes(t, "x", notes("n", 50)...)
	nc1 := natstest.Connect(t, e.url)
	r1 := e.startRunner(t, nc1, p)
	waitFor(t, "caught up", func() bool { return status(t, r1, "counters").LastApplied >= last })
	if err := r1.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Move the consumer back as if the acks had been lost: the events come
	// again and must be recognised as applied.
	if _, err := e.js.ResetConsumerToSequence(ctxT(t), "EVENTS", "jetflow_projection_counters_g1", 1); err != nil {
		t.Fatal(err)
	}
	callsBefore := h.callCount()
	last = e.appendNotes(t, "x", "after")
	r2 := e.startRunner(t, natstest.Connect(t, e.url), p)
	waitFor(t, "caught up again", func() bool { return status(t, r2, "counters").LastApplied >= last })
	c, _ := e.record(t, "rm_counters", "x")
	if c.Count != 51 || c.Notes[50] != "after" {
		t.Fatalf("x = %d events, want 51", c.Count)
	}
	if calls := h.callCount() - callsBefore; calls != 1 {
		t.Fatalf("handler called %d times after the restart, want 1 (the new event)", calls)
	}
	// The checkpoint is published after the batch is acked and not waited
	// for, so it may land just after the status moves.
	kv, err := e.js.KeyValue(ctxT(t), "rm_counters")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sequence":` + strconv.FormatUint(last, 10) + `}`
	waitFor(t, "checkpoint "+want, func() bool {
		entry, err := kv.Get(ctxT(t), projections.CheckpointKey)
		return err == nil && string(entry.Value()) == want
	})
}

// TestSecondRunnerStandsByAndTakesOver: two processes run the same
// projection; only one consumes (the lease), and when it stops the other
// takes over and catches up.
func TestSecondRunnerStandsByAndTakesOver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := counterProjection(&counterHandler{})
	r1 := e.startRunner(t, natstest.Connect(t, e.url), p)
	r2 := e.startRunner(t, natstest.Connect(t, e.url), p)
	states := []projections.State{status(t, r1, "counters").State, status(t, r2, "counters").State}
	slices.Sort(states)
	if states[0] != projections.StateRunning || states[1] != projections.StateStandby {
		t.Fatalf("states %v, want one running and one on standby", states)
	}
	active, standby := r1, r2
	if status(t, r1, "counters").State == projections.StateStandby {
		active, standby = r2, r1
	}
	last := e.appendNotes(t, "y", notes("n", 10)...)
	waitFor(t, "applied by the active runner", func() bool { return status(t, active, "counters").LastApplied >= last })
	if err := active.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	last = e.appendNotes(t, "y", "after takeover")
	waitFor(t, "standby took over", func() bool {
		s := status(t, standby, "counters")
		return s.State == projections.StateRunning && s.LastApplied >= last
	})
	if c, _ := e.record(t, "rm_counters", "y"); c.Count != 11 {
		t.Fatalf("y = %d events, want 11", c.Count)
	}
	// Acks are not waited for: the floor follows the status shortly.
	waitFor(t, "ack floor at the last event", func() bool {
		info, err := e.js.Consumer(ctxT(t), "EVENTS", "jetflow_projection_counters_g1")
		return err == nil && info.CachedInfo().AckFloor.Stream == last
	})
}
