package streams

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/wire"
)

// headerExpectedLastSubjectSeq is JetStream's expected-sequence check; the
// event headers are wire's (wire.HeaderEventType…).
const (
	headerExpectedLastSubjectSeq = "Nats-Expected-Last-Subject-Sequence"
)

var (
	// ErrMalformedEvent is returned when a stored message is not a valid event.
	ErrMalformedEvent = errors.New("streams: malformed event message")
	// ErrInvalidEvent is returned when an event to append is not valid.
	ErrInvalidEvent = errors.New("streams: invalid event")
)

// Metadata travels with every event for tracing who caused what.
type Metadata struct {
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	Source        string `json:"source,omitempty"`
	// TraceParent is the W3C trace context of the change that wrote the event.
	TraceParent string `json:"traceparent,omitempty"`
}

// Event is the envelope of one stored domain event.
type Event struct {
	// ID is unique per event (UUIDv7) and doubles as the JetStream message id,
	// which makes a retried append idempotent.
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	AggregateType string          `json:"aggregate_type"`
	AggregateID   string          `json:"aggregate_id"`
	Version       uint64          `json:"version"`
	Schema        int             `json:"schema"`
	Data          json.RawMessage `json:"data"`
	Metadata      Metadata        `json:"metadata"`
	OccurredAt    time.Time       `json:"occurred_at"`
	// Sequence is the stream sequence, set once the event is stored.
	Sequence uint64 `json:"sequence,omitempty"`
}

// decodeLegacy turns a message of the format before commits (one event:
// its data as the body, its fields in headers) into an Event. It never
// panics on bad input and names the header or field that is wrong.
func decodeLegacy(subject string, h nats.Header, data []byte, sequence uint64) (Event, error) {
	bad := func(format string, args ...any) (Event, error) {
		return Event{}, fmt.Errorf("%w (subject %q, sequence %d): %s", ErrMalformedEvent, subject, sequence, fmt.Sprintf(format, args...))
	}
	ev := Event{
		ID:            h.Get(wire.HeaderMsgID),
		Type:          h.Get(wire.HeaderEventType),
		AggregateType: h.Get(wire.HeaderAggregateType),
		AggregateID:   h.Get(wire.HeaderAggregateID),
		Sequence:      sequence,
		Metadata: Metadata{
			CorrelationID: h.Get(wire.HeaderCorrelationID),
			CausationID:   h.Get(wire.HeaderCausationID),
			UserID:        h.Get(wire.HeaderUserID),
			Source:        h.Get(wire.HeaderSource),
			TraceParent:   h.Get(wire.HeaderTraceParent),
		},
	}
	if ev.ID == "" {
		return bad("missing header %s", wire.HeaderMsgID)
	}
	if ev.Type == "" {
		return bad("missing header %s", wire.HeaderEventType)
	}
	if err := ValidateAggregateType(ev.AggregateType); err != nil {
		return bad("header %s: %v", wire.HeaderAggregateType, err)
	}
	if err := validateStoredAggregateID(ev.AggregateID); err != nil {
		return bad("header %s: %v", wire.HeaderAggregateID, err)
	}
	if !strings.HasSuffix(subject, "."+ev.AggregateType+"."+ev.AggregateID) {
		return bad("subject does not end in .%s.%s", ev.AggregateType, ev.AggregateID)
	}
	v, err := strconv.ParseUint(h.Get(wire.HeaderVersion), 10, 64)
	if err != nil || v == 0 {
		return bad("header %s %q is not a version (1, 2, ...)", wire.HeaderVersion, h.Get(wire.HeaderVersion))
	}
	ev.Version = v
	schema, err := strconv.Atoi(h.Get(wire.HeaderSchema))
	if err != nil || schema < 1 {
		return bad("header %s %q is not a schema version (1, 2, ...)", wire.HeaderSchema, h.Get(wire.HeaderSchema))
	}
	ev.Schema = schema
	at, err := time.Parse(time.RFC3339Nano, h.Get(wire.HeaderOccurredAt))
	if err != nil {
		return bad("header %s %q is not an RFC 3339 time", wire.HeaderOccurredAt, h.Get(wire.HeaderOccurredAt))
	}
	ev.OccurredAt = at.UTC()
	if !json.Valid(data) {
		return bad("data is not valid JSON")
	}
	ev.Data = json.RawMessage(data)
	return ev, nil
}

// validateForAppend checks what a caller supplied before anything is sent.
func (e *Event) validateForAppend(i int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: event %d (%q): %s", ErrInvalidEvent, i, truncate(e.Type), fmt.Sprintf(format, args...))
	}
	if e.Type == "" {
		return bad("type must not be empty")
	}
	if strings.ContainsAny(e.Type, " \t") {
		return bad("type %q must not contain whitespace", truncate(e.Type))
	}
	if e.Schema < 0 {
		return bad("schema %d must be 1 or more", e.Schema)
	}
	if len(e.Data) == 0 || !json.Valid(e.Data) {
		return bad("data is not valid JSON")
	}
	if y := e.OccurredAt.UTC().Year(); y < 0 || y > 9999 {
		// RFC 3339 has four-digit years: time.Parse refuses what Format writes.
		return bad("occurred_at %s is outside years 0000 to 9999", e.OccurredAt.UTC().Format(time.RFC3339))
	}
	for _, f := range [...]struct{ name, value string }{
		{"id", e.ID}, {"type", e.Type}, {"correlation id", e.Metadata.CorrelationID}, {"causation id", e.Metadata.CausationID},
		{"user id", e.Metadata.UserID}, {"source", e.Metadata.Source}, {"traceparent", e.Metadata.TraceParent},
	} {
		if problem := headerValueProblem(f.value); problem != "" {
			return bad("%s %q %s", f.name, truncate(f.value), problem)
		}
	}
	return nil
}

// headerValueProblem says why s would not arrive as sent in a header value,
// or "" when it would. nats.go trims blanks around header values, so an id
// " x" would be stored as "x" and " " as nothing at all.
func headerValueProblem(s string) string {
	switch {
	case wire.HasControl(s):
		return "must not contain control characters"
	case textproto.TrimString(s) != s:
		return "must not start or end with blanks"
	}
	return ""
}

// Position is the aggregate's position right after this stored event.
func (e Event) Position() Position {
	return Position{Sequence: e.Sequence, Version: e.Version}
}
