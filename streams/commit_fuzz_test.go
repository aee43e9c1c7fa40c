package streams

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// commitSeeds are commits as Append writes them: one event, several with
// shared and distinct metadata, data of every JSON kind, an aggregate id
// of other scripts, far-off occurred-at times.
func commitSeeds() [][]byte {
	at := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC)
	meta := Metadata{CorrelationID: "corr-1", CausationID: "cmd-1", UserID: "ada", Source: "jetflow-commands",
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	ev := func(id, typ string, version uint64, data string) Event {
		return Event{ID: id, Type: typ, AggregateType: "order", AggregateID: "o-1", Version: version, Schema: 1,
			OccurredAt: at, Data: json.RawMessage(data), Metadata: meta}
	}
	placed := []Event{ev("e1", "order.placed", 1, `{"customer":"ada"}`), ev("e2", "order.line_added", 2, `{"sku":"tea","qty":2}`),
		ev("e3", "order.line_added", 3, `{"sku":"cup","qty":1}`)}
	single := []Event{{ID: "01a2", Type: "user.created", AggregateType: "user", AggregateID: "日本-1", Version: 7, Schema: 3,
		OccurredAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), Data: json.RawMessage(`"a string"`)}}
	old := []Event{{ID: "x", Type: "t", AggregateType: "a", AggregateID: "b", Version: 1, Schema: 1,
		OccurredAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`[1,2,null,true]`)}}
	return [][]byte{encodeCommit(0, placed), encodeCommit(41, single), encodeCommit(0, old)}
}

// FuzzDecodeCommit feeds arbitrary bodies to the commit decoder: it must
// never panic, and what it accepts must encode back to the same events.
func FuzzDecodeCommit(f *testing.F) {
	for _, seed := range commitSeeds() {
		f.Add(seed)
	}
	f.Add([]byte(commitMagic))
	f.Add([]byte(commitMagic + "\x00\x01\x01a\x01b\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, body []byte) {
		if !isCommit(body) {
			return
		}
		head, evs, err := decodeCommit(body, 42)
		if err != nil {
			return
		}
		if len(evs) != head.count || evs[0].Version != head.firstVersion || evs[len(evs)-1].Version != head.lastVersion() {
			t.Fatalf("head %+v, %d events from %d", head, len(evs), evs[0].Version)
		}
		h2, err := readCommitHead(body)
		if err != nil || h2 != head {
			t.Fatalf("head read alone %+v %v, with the events %+v", h2, err, head)
		}
		// Append refuses a commit over the limit by these bounds, before
		// encoding it: they must not be below what it encodes to.
		bound := commitBodyOverhead(evs[0].AggregateType, evs[0].AggregateID)
		for i := range evs {
			bound += evs[i].encodedSize()
		}
		if n := len(encodeCommit(head.prev, evs)); n > bound {
			t.Fatalf("commit of %d events encodes to %d bytes, over its bound %d", len(evs), n, bound)
		}
		again, evs2, err := decodeCommit(encodeCommit(head.prev, evs), 42)
		if err != nil || again != head || !reflect.DeepEqual(evs, evs2) {
			t.Fatalf("re-encoded commit decodes to %+v %v (%v), want %+v", evs2, again, err, evs)
		}
	})
}

// Every seed decodes to what was encoded.
func TestCommitRoundTrip(t *testing.T) {
	t.Parallel()
	for i, seed := range commitSeeds() {
		head, evs, err := decodeCommit(seed, 9)
		if err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		for _, ev := range evs {
			if ev.Sequence != 9 {
				t.Fatalf("seed %d: sequence %d", i, ev.Sequence)
			}
		}
		if !reflect.DeepEqual(seed, encodeCommit(head.prev, evs)) {
			t.Fatalf("seed %d does not encode back to itself", i)
		}
	}
}
