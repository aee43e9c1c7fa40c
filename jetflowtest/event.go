package jetflowtest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jetflow/jetflow/streams"
)

// Event returns an event of type eventType whose data is data as JSON
// (json.RawMessage is taken as it is). It names no aggregate: Given gives it
// the aggregate of the history it is in. Use EventOf where the aggregate
// matters, as it does for a projection.
//
// It panics when data does not marshal to JSON, as regexp.MustCompile does
// for a bad pattern: the test itself is wrong.
func Event(eventType string, data any) streams.Event {
	raw, err := marshal(data)
	if err != nil {
		panic(fmt.Sprintf("jetflowtest: data of event %s does not marshal to JSON: %v", eventType, err))
	}
	return streams.Event{Type: eventType, Schema: 1, Data: raw}
}

// EventOf returns an event of type eventType of the aggregate aggregateType /
// aggregateID, with data as JSON. The fixtures fill in what the event store
// would (see Given and GivenEvents); any field set on the returned event
// before it is given is kept instead.
func EventOf(aggregateType, aggregateID, eventType string, data any) streams.Event {
	ev := Event(eventType, data)
	ev.AggregateType, ev.AggregateID = aggregateType, aggregateID
	return ev
}

// EventTime is the occurred-at time the fixtures give an event at stream
// sequence seq that has none: 2026-01-01T00:00:00Z plus seq seconds, so
// tests that record times have a fixed value to expect.
func EventTime(seq uint64) time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second)
}

// eventID is the id of the event at sequence seq when it has none: a fixed,
// readable value in the shape of a UUIDv7.
func eventID(seq uint64) string {
	return fmt.Sprintf("00000000-0000-7000-8000-%012d", seq)
}

// stored fills in what the event store sets on an appended event, keeping
// what the test set: sequence seq and version version (when zero), id,
// occurred-at time, schema 1 and the default source.
func stored(ev streams.Event, seq, version uint64) streams.Event {
	if ev.Sequence == 0 {
		ev.Sequence = seq
	}
	if ev.Version == 0 {
		ev.Version = version
	}
	if ev.ID == "" {
		ev.ID = eventID(ev.Sequence)
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = EventTime(ev.Sequence)
	}
	if ev.Schema == 0 {
		ev.Schema = 1
	}
	if ev.Metadata.Source == "" {
		ev.Metadata.Source = streams.DefaultSource
	}
	if len(ev.Data) == 0 {
		ev.Data = json.RawMessage("null")
	}
	return ev
}

// describeEvent names an event in a message: its position, type and
// aggregate, and its data.
func describeEvent(ev streams.Event) string {
	s := fmt.Sprintf("%s (version %d, sequence %d", ev.Type, ev.Version, ev.Sequence)
	if ev.AggregateType != "" || ev.AggregateID != "" {
		s += fmt.Sprintf(", aggregate %s/%s", ev.AggregateType, ev.AggregateID)
	}
	return s + ") " + showJSON(ev.Data)
}
