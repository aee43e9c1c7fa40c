package projections_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jetflow/jetflow/projections"
)

// lockedBuffer is a log sink the runner's goroutines write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The operator's typo of the issue: a skip of an event the projection is
// not failed at is refused, naming where it stands, and a rebuild after it
// keeps every record. A skip of the failed event holds for that generation
// only (a rebuild applies the event again) and is logged with the event's
// sequence and type when it is applied.
func TestSkipIsOnlyForTheEventAProjectionFailedAt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	logs := &lockedBuffer{}
	e.log = slog.New(slog.NewJSONHandler(logs, nil))
	h := &counterHandler{}
	p := counterProjection(h)
	r := e.startRunner(t, e.nc, p)
	admin, err := projections.NewAdmin(ctxT(t), e.nc, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.appendNotes(t, "ann", "one")
	bob := e.appendNotes(t, "bob", "one")
	last := e.appendNotes(t, "cyd", "one")
	waitFor(t, "running at the last event", func() bool { return status(t, r, "counters").LastApplied == last })

	_, err = admin.Skip(ctxT(t), "counters", bob)
	var refused *projections.SkipRefusedError
	if !errors.As(err, &refused) || !errors.Is(err, projections.ErrSkipRefused) {
		t.Fatalf("skip of %d while running: %v, want a *SkipRefusedError", bob, err)
	}
	if want := fmt.Sprintf("counters is not failed (running at %d)", last); !strings.Contains(err.Error(), want) {
		t.Fatalf("refusal %q does not say %q", err, want)
	}
	if _, err := admin.Rebuild(ctxT(t), p, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ann", "bob", "cyd"} {
		if c, ok := e.record(t, "rm_counters_g2", id); !ok || c.Count != 1 {
			t.Fatalf("%s after the rebuild: %+v %v, want its one event", id, c, ok)
		}
	}

	h.setPoisoned(true)
	poison := e.appendNotes(t, "dov", "poison")
	waitFor(t, "failed at the poison", func() bool {
		s := status(t, r, "counters")
		return s.State == projections.StateFailed && s.Failure != nil && s.Failure.Sequence == poison
	})
	_, err = admin.Skip(ctxT(t), "counters", poison-1)
	if !errors.As(err, &refused) || refused.FailedAt != poison ||
		!strings.Contains(err.Error(), fmt.Sprintf("counters is failed at event %d, not %d", poison, poison-1)) {
		t.Fatalf("skip of %d while failed at %d: %v", poison-1, poison, err)
	}
	if _, err := admin.Skip(ctxT(t), "counters", poison); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "skip applied", func() bool { return status(t, r, "counters").State == projections.StateRunning })
	if _, ok := e.record(t, "rm_counters_g2", "dov"); ok {
		t.Fatal("the skipped event was applied")
	}
	wantLog := fmt.Sprintf(`"msg":"event skipped on an operator's request","projection":"counters","generation":2,"sequence":%d,"type":"thing.noted"`, poison)
	waitFor(t, "the skip logged", func() bool { return strings.Contains(logs.String(), wantLog) })

	// Generation 3 is not told to skip what generation 2 skipped.
	h.setPoisoned(false)
	if _, err := admin.Rebuild(ctxT(t), p, nil); err != nil {
		t.Fatal(err)
	}
	if c, ok := e.record(t, "rm_counters_g3", "dov"); !ok || c.Count != 1 {
		t.Fatalf("dov after a rebuild: %+v %v, want the event applied", c, ok)
	}
}
