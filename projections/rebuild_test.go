package projections_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
)

// TestRebuildSwitchesAndRemovesOldGeneration: a rebuild fills generation 2
// from sequence 1 while the runner keeps generation 1 current; after the
// switch the runner follows generation 2 and generation 1 is gone.
func TestRebuildSwitchesAndRemovesOldGeneration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := counterProjection(&counterHandler{})
	for _, id := range []string{"a", "b", "c"} {
		e.appendNotes(t, id, notes(id, 20)...)
	}
	last := e.appendNotes(t, "a", "last")
	r := e.startRunner(t, natstest.Connect(t, e.url), p)
	waitFor(t, "generation 1 caught up", func() bool { return status(t, r, "counters").LastApplied >= last })

	admin, err := projections.NewAdmin(ctxT(t), natstest.Connect(t, e.url), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	meta, err := admin.Rebuild(ctxT(t), counterProjection(&counterHandler{}), func(pr projections.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != pr.Phase {
			phases = append(phases, pr.Phase)
		}
		if pr.Done > pr.Total {
			t.Errorf("progress done %d > total %d", pr.Done, pr.Total)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Active.Number != 2 || meta.Active.Bucket != "rm_counters_g2" || meta.Rebuild != nil || len(meta.Retired) != 0 {
		t.Fatalf("meta after rebuild: %+v", meta)
	}
	if want := []string{"building", "switching", "cleaning up", "done"}; !equal(phases, want) {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	if _, err := e.js.KeyValue(ctxT(t), "rm_counters"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("old bucket still there: %v", err)
	}
	if _, err := e.js.Consumer(ctxT(t), "EVENTS", "jetflow_projection_counters_g1"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("old consumer still there: %v", err)
	}
	for _, id := range []string{"a", "b", "c"} {
		c, _ := e.record(t, "rm_counters_g2", id)
		want := 20
		if id == "a" {
			want = 21
		}
		if c.Count != want {
			t.Fatalf("%s = %d events in generation 2, want %d", id, c.Count, want)
		}
	}
	// The runner follows the new generation.
	last = e.appendNotes(t, "b", "after switch")
	waitFor(t, "runner on generation 2", func() bool {
		s := status(t, r, "counters")
		return s.Generation == 2 && s.State == projections.StateRunning && s.LastApplied >= last
	})
	if c, _ := e.record(t, "rm_counters_g2", "b"); c.Count != 21 {
		t.Fatalf("b = %d events, want 21", c.Count)
	}
}

// TestInterruptedRebuildResumes: a rebuild cut off midway continues where
// it stopped when started again, and applies every event exactly once.
func TestInterruptedRebuildResumes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	last := e.appendNotes(t, "z", notes("z", 300)...)
	e.cfg.MaxBatch = 16 // small batches: the interruption lands mid-stream
	admin, err := projections.NewAdmin(ctxT(t), e.nc, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	interrupting := &counterHandler{onCall: func(calls int) {
		if calls == 100 {
			cancel() // as Ctrl-C would, mid-batch
		}
	}}
	_, err = admin.Rebuild(ctx, counterProjection(interrupting), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rebuild: %v", err)
	}
	rep, err := admin.Report(ctxT(t), "counters")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rebuild == nil || rep.Rebuild.AckFloor < 50 || rep.Rebuild.AckFloor >= last {
		t.Fatalf("after interruption: rebuild %+v, want a checkpoint midway", rep.Rebuild)
	}
	resumed := false
	meta, err := admin.Rebuild(ctxT(t), counterProjection(&counterHandler{}), func(pr projections.Progress) { resumed = resumed || pr.Resumed })
	if err != nil {
		t.Fatal(err)
	}
	if !resumed || meta.Active.Number != 2 {
		t.Fatalf("resumed %v, meta %+v", resumed, meta)
	}
	if c, _ := e.record(t, "rm_counters_g2", "z"); c.Count != 300 || c.Notes[299] != "z-299" {
		t.Fatalf("z = %d events, want each of the 300 once", c.Count)
	}
}

// TestRunnerRemovesWhatAnInterruptedCleanupLeft: a rebuild cut off after
// the switch, while removing the old generation, leaves its bucket and
// consumer behind; the runner that starts on the new generation removes
// them.
func TestRunnerRemovesWhatAnInterruptedCleanupLeft(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	last := e.appendNotes(t, "k", notes("k", 10)...)
	r1 := e.startRunner(t, natstest.Connect(t, e.url), counterProjection(&counterHandler{}))
	waitFor(t, "generation 1 caught up", func() bool { return status(t, r1, "counters").LastApplied >= last })
	if err := r1.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	admin, err := projections.NewAdmin(ctxT(t), e.nc, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	_, err = admin.Rebuild(ctx, counterProjection(&counterHandler{}), func(pr projections.Progress) {
		if pr.Phase == "cleaning up" {
			cancel() // as a kill between the switch and the cleanup would
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("rebuild cut off in its cleanup: %v", err)
	}
	rep, err := admin.Report(ctxT(t), "counters")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Meta.Active.Number != 2 || len(rep.Meta.Retired) != 1 || rep.Meta.Retired[0].Number != 1 {
		t.Fatalf("meta after the cut-off cleanup: %+v", rep.Meta)
	}
	if _, err := e.js.KeyValue(ctxT(t), "rm_counters"); err != nil {
		t.Fatalf("the cut-off cleanup removed the old bucket already: %v", err)
	}

	r2 := e.startRunner(t, natstest.Connect(t, e.url), counterProjection(&counterHandler{}))
	waitFor(t, "old generation removed", func() bool {
		rep, err := admin.Report(ctxT(t), "counters")
		return err == nil && len(rep.Meta.Retired) == 0
	})
	if _, err := e.js.KeyValue(ctxT(t), "rm_counters"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("old bucket still there: %v", err)
	}
	if _, err := e.js.Consumer(ctxT(t), "EVENTS", "jetflow_projection_counters_g1"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("old consumer still there: %v", err)
	}
	if s := status(t, r2, "counters"); s.Generation != 2 || s.State != projections.StateRunning {
		t.Fatalf("runner after cleanup: %+v", s)
	}
	if c, _ := e.record(t, "rm_counters_g2", "k"); c.Count != 10 {
		t.Fatalf("k = %d events in generation 2, want 10", c.Count)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
