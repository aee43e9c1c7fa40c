package processes

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jetflow/jetflow/streams"
)

type opened struct {
	Count int `json:"count"`
}

// accountProcess: acct.opened records a note on the ledger (a command);
// each acct.noted only counts.
func accountProcess() Definition[opened] {
	count := func(_ context.Context, p Instance[opened], ev streams.Event) (Step[opened], error) {
		s := p.State
		s.Count++
		var cmds []Command
		if ev.Type == "acct.opened" {
			cmds = []Command{{Name: "ledger.record", Body: recordCmd{ID: "l-" + p.ID, Note: "opened"}}}
		}
		return Step[opened]{State: s, Commands: cmds}, nil
	}
	return Definition[opened]{
		Name: "acct", AggregateTypes: []string{"acct"},
		On: []On[opened]{{Event: "acct.opened", Start: true, Handle: count}, {Event: "acct.noted", Handle: count}},
	}
}

// An event whose command failed after its step was stored is redelivered
// after its backoff, while the instance has handled more messages than the
// record's History meanwhile: it is still found handled (it is above the
// consumer's ack floor), so its step is not applied twice.
func TestRedeliveryAfterMoreThanHistoryIsNotAppliedTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.serveLedger(t)
	f := serveFlaky(t, e.nc)
	var met countMetrics
	cfg := Config{CommandPrefix: "flaky", CommandTimeout: 300 * time.Millisecond, Backoff: []time.Duration{3 * time.Second}, History: 1}
	m := start(t, e.nc, accountProcess(), cfg, WithMetrics(&met))
	first := e.appendEvent(t, "acct", "a-1", "acct.opened", nil)
	cmdID := CommandID("acct", "a-1", first.ID, 0)
	eventually(t, 20*time.Second, func() (bool, string) { return f.count(cmdID) == 1, "command not sent" })
	for range 3 {
		e.appendTo(t, "acct", "a-1", "acct.noted", nil)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		return f.count(cmdID) == 2 && met.get("skipped_"+ReasonDuplicate) == 1,
			fmt.Sprintf("command sent %d times, %d duplicates", f.count(cmdID), met.get("skipped_"+ReasonDuplicate))
	})
	r, _ := show(t, e.js, m.Config().Bucket, "a-1")
	if got := stateOf[opened](t, r); got.Count != 4 || r.Steps != 4 {
		t.Fatalf("count %d after %d steps, want 4 and 4: the redelivered event was decided again", got.Count, r.Steps)
	}
	if n := e.ledgerNotes(t, "l-a-1"); len(n) != 1 {
		t.Fatalf("ledger l-a-1 %v", n)
	}
}
