package jetflowtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// ReadModel is a projection's records after the events given to its
// handler, kept in memory: what GivenEvents returns.
type ReadModel struct {
	t        testing.TB
	h        projections.Handler
	records  map[string][]byte
	events   []streams.Event
	seq      uint64
	versions map[string]uint64
}

// GivenEvents feeds events to h in order, as the projection runner does
// from the event stream: for each event, h.Key names the record ("" skips
// the event), h.Apply gets the record's current value (nil when there is
// none) and returns the new one (nil deletes the record). Events get, unless
// the test set them, stream sequences 1, 2, ... across all events,
// versions 1, 2, ... per aggregate, ids and occurred-at times (see
// EventTime). Build them with EventOf.
//
// A Key or Apply error fails the test naming the event, as does a key the
// runner would refuse (build keys with projections.Key).
func GivenEvents(t testing.TB, h projections.Handler, events ...streams.Event) *ReadModel {
	t.Helper()
	if h == nil {
		t.Fatalf("jetflowtest: GivenEvents needs the projection's handler")
	}
	m := &ReadModel{t: t, h: h, records: map[string][]byte{}, versions: map[string]uint64{}}
	m.apply(events)
	return m
}

// When feeds more events to the handler, after those already given.
func (m *ReadModel) When(events ...streams.Event) *ReadModel {
	m.t.Helper()
	m.apply(events)
	return m
}

func (m *ReadModel) apply(events []streams.Event) {
	m.t.Helper()
	for _, ev := range events {
		n := len(m.events) + 1
		if ev.Sequence != 0 && ev.Sequence <= m.seq {
			m.t.Fatalf("jetflowtest: event %d (%s) has sequence %d, not after the previous event's %d: the stream is in order", n, ev.Type, ev.Sequence, m.seq)
		}
		agg := ev.AggregateType + "\x00" + ev.AggregateID
		ev = stored(ev, m.seq+1, m.versions[agg]+1)
		m.seq, m.versions[agg] = ev.Sequence, ev.Version
		m.events = append(m.events, ev)
		key, err := m.h.Key(ev)
		if err != nil {
			m.t.Fatalf("jetflowtest: event %d, %s: Key failed: %v", n, describeEvent(ev), err)
		}
		if key == "" {
			continue
		}
		if !validRecordKey(key) {
			m.t.Fatalf("jetflowtest: event %d, %s: Key returned %q, which the projection runner refuses (KV key characters, not starting with %q); build keys with projections.Key", n, describeEvent(ev), key, reservedKeyPrefix)
		}
		var current []byte
		if rec, ok := m.records[key]; ok {
			current = bytes.Clone(rec)
		}
		next, err := m.h.Apply(m.t.Context(), ev, current)
		if err != nil {
			m.t.Fatalf("jetflowtest: event %d, %s: Apply to record %q failed: %v", n, describeEvent(ev), key, err)
		}
		if next == nil {
			delete(m.records, key)
		} else {
			m.records[key] = bytes.Clone(next)
		}
	}
}

// ThenRecord checks that the record under key holds want, compared as JSON
// ([]byte and json.RawMessage are taken as JSON text, anything else is
// marshalled). key is the record's key as the handler's Key returns it; an
// id that projections.Key encodes (such as "ada@example.com") is found
// too. A difference fails the test with both records and the fields that
// differ.
func (m *ReadModel) ThenRecord(key string, want any) *ReadModel {
	m.t.Helper()
	var raw []byte
	switch w := want.(type) {
	case []byte:
		raw = w
	case json.RawMessage:
		raw = w
	default:
		var err error
		if raw, err = json.Marshal(want); err != nil {
			m.t.Fatalf("jetflowtest: the expected record %q does not marshal to JSON: %v", key, err)
		}
	}
	wantJSON := decodeJSON(raw)
	k, rec, ok := m.lookup(key)
	if !ok {
		m.t.Errorf("jetflowtest: after %s: no record %q\n  expected: %s\n  records:  %s", m.given(), key, wantJSON, m.keyList())
		return m
	}
	got := decodeJSON(rec)
	if !wantJSON.equal(got) {
		var b strings.Builder
		fmt.Fprintf(&b, "jetflowtest: after %s: record %q differs\n  expected: %s\n  actual:   %s", m.given(), k, wantJSON, got)
		for _, line := range jsonDiff(wantJSON, got) {
			fmt.Fprintf(&b, "\n    %s", line)
		}
		m.t.Errorf("%s", b.String())
	}
	return m
}

// ThenNoRecord checks that there is no record under key (never written, or
// deleted by an Apply that returned nil).
func (m *ReadModel) ThenNoRecord(key string) *ReadModel {
	m.t.Helper()
	if k, rec, ok := m.lookup(key); ok {
		m.t.Errorf("jetflowtest: after %s: record %q exists, expected none\n  actual: %s", m.given(), k, showJSON(rec))
	}
	return m
}

// Record returns the record under key (see ThenRecord) and whether it exists.
func (m *ReadModel) Record(key string) ([]byte, bool) {
	_, rec, ok := m.lookup(key)
	return bytes.Clone(rec), ok
}

// Keys returns the keys of the records, sorted.
func (m *ReadModel) Keys() []string {
	return slices.Sorted(maps.Keys(m.records))
}

// Events returns the events given so far, as the handler saw them.
func (m *ReadModel) Events() []streams.Event {
	return slices.Clone(m.events)
}

func (m *ReadModel) lookup(key string) (string, []byte, bool) {
	if rec, ok := m.records[key]; ok {
		return key, rec, true
	}
	if k := projections.Key(key); k != key {
		if rec, ok := m.records[k]; ok {
			return k, rec, true
		}
	}
	return key, nil, false
}

func (m *ReadModel) given() string {
	if len(m.events) == 1 {
		return "1 event"
	}
	return fmt.Sprintf("%d events", len(m.events))
}

// keyList names the records there are, at most 10.
func (m *ReadModel) keyList() string {
	keys := m.Keys()
	if len(keys) == 0 {
		return "none"
	}
	const most = 10
	quoted := make([]string, 0, most+1)
	for i, k := range keys {
		if i == most {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(keys)-most))
			break
		}
		quoted = append(quoted, fmt.Sprintf("%q", k))
	}
	return strings.Join(quoted, ", ")
}

// reservedKeyPrefix starts the projection runner's own keys, such as
// projections.CheckpointKey ("_jetflow.checkpoint").
var reservedKeyPrefix = strings.TrimSuffix(projections.CheckpointKey, "checkpoint")

// validRecordKey reports whether the runner accepts k as a record's key: a
// KV key that is not one of its own.
func validRecordKey(k string) bool {
	if k == "" || strings.HasPrefix(k, reservedKeyPrefix) || k[0] == '.' || k[len(k)-1] == '.' || strings.Contains(k, "..") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '=' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}
