package processes

import (
	"fmt"
	"testing"
)

func handledEvents(seqs ...uint64) []Handled {
	out := make([]Handled, len(seqs))
	for i, s := range seqs {
		out[i] = Handled{ID: fmt.Sprintf("e%d", s), Kind: KindEvent, Sequence: s}
	}
	return out
}

func ids(hs []Handled) string {
	s := ""
	for _, h := range hs {
		s += h.ID + " "
	}
	return s
}

// Entries beyond the history go oldest first, but an event above the ack
// floor may still be redelivered and stays listed.
func TestPruneHandledKeepsWhatMayComeAgain(t *testing.T) {
	t.Parallel()
	deadline := Handled{ID: "d1", Kind: KindDeadline}
	cases := []struct {
		name    string
		in      []Handled
		history int
		floor   uint64
		want    string
	}{
		{"under history", handledEvents(1, 2, 3), 3, 0, "e1 e2 e3 "},
		{"all acked", handledEvents(1, 2, 3, 4, 5), 3, 5, "e3 e4 e5 "},
		{"none acked", handledEvents(1, 2, 3, 4, 5), 3, 0, "e1 e2 e3 e4 e5 "},
		{"oldest unacked stays", handledEvents(7, 2, 3, 4, 5), 3, 4, "e7 e4 e5 "},
		{"deadlines go", append([]Handled{deadline}, handledEvents(8, 9, 10)...), 3, 0, "e8 e9 e10 "},
	}
	for _, tc := range cases {
		if got := ids(pruneHandled(tc.in, tc.history, tc.floor)); got != tc.want {
			t.Errorf("%s: kept %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A consumer stalled behind one message keeps its floor low; the list
// still stops at maxHandled.
func TestPruneHandledIsBounded(t *testing.T) {
	t.Parallel()
	seqs := make([]uint64, maxHandled+5)
	for i := range seqs {
		seqs[i] = uint64(i + 1)
	}
	got := pruneHandled(handledEvents(seqs...), 32, 0)
	if len(got) != maxHandled || got[0].Sequence != 6 {
		t.Fatalf("kept %d entries from sequence %d, want %d from 6", len(got), got[0].Sequence, maxHandled)
	}
}
