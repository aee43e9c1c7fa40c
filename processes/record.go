package processes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Record is an instance as its bucket stores it (JSON, key InstanceKey of
// its id). It is part of the wire contract: `jetflow processes show`
// prints it, and other tools may read it.
type Record struct {
	Process string `json:"process"`
	ID      string `json:"id"`
	// Status is StatusRunning or StatusEnded.
	Status string `json:"status"`
	// State is the handlers' state S as JSON.
	State json.RawMessage `json:"state"`
	// Steps counts the messages handled.
	Steps     int        `json:"steps"`
	StartedAt time.Time  `json:"started_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// Deadlines are pending, soonest first.
	Deadlines []PendingDeadline `json:"deadlines,omitempty"`
	// Handled are the messages handled, oldest first: the last History
	// ones and any older event still above the consumer's ack floor. A
	// redelivered one is recognised by its id.
	Handled []Handled `json:"handled,omitempty"`
	// Pending are the effects of recent steps not known to be done: the
	// manager carries them out after storing the record, and sends them
	// again (the same ids) when the message is redelivered.
	Pending []Effect `json:"pending,omitempty"`
	// Removed is set by Show on the record of an instance that ended and
	// was removed (read from its tombstone); never stored.
	Removed bool `json:"removed,omitempty"`
}

// Handled is one message an instance handled.
type Handled struct {
	// ID is the event's id, or the deadline's.
	ID string `json:"id"`
	// Kind is "event" or "deadline"; Type the event type or deadline name.
	Kind string `json:"kind"`
	Type string `json:"type"`
	// Sequence is the event's stream sequence (0 for a deadline).
	Sequence uint64    `json:"sequence,omitempty"`
	At       time.Time `json:"at"`
	// Step is the instance's step number this message made (1-based).
	Step int `json:"step"`
}

// Message kinds.
const (
	KindEvent    = "event"
	KindDeadline = "deadline"
)

// Effect kinds.
const (
	EffectCommand  = "command"
	EffectDeadline = "deadline"
	EffectCancel   = "cancel"
)

// Effect is one thing a step does besides storing the state.
type Effect struct {
	// Kind is EffectCommand, EffectDeadline (schedule it) or EffectCancel.
	Kind string `json:"kind"`
	// ID is the command id, or the deadline id.
	ID string `json:"id"`
	// Message is the id of the message whose step made it.
	Message string `json:"message"`
	// Name is the command's name or the deadline's.
	Name string `json:"name"`
	// Body is the command's body, or the deadline's payload.
	Body json.RawMessage `json:"body,omitempty"`
	// At is when the deadline fires.
	At            *time.Time `json:"at,omitempty"`
	CorrelationID string     `json:"correlation_id,omitempty"`
	WrittenAt     time.Time  `json:"written_at"`
}

// maxRecordBytes bounds a record read from a bucket.
const maxRecordBytes = 8 << 20

// DecodeRecord decodes a stored record and checks that it is one: a
// process and instance id, a known status, JSON state.
func DecodeRecord(data []byte) (Record, error) {
	var r Record
	if len(data) > maxRecordBytes {
		return r, fmt.Errorf("%w: %d bytes", ErrMalformedRecord, len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformedRecord, err)
	}
	if dec.More() {
		return Record{}, fmt.Errorf("%w: data after the record", ErrMalformedRecord)
	}
	switch {
	case ValidateName(r.Process) != nil:
		return Record{}, fmt.Errorf("%w: process %q", ErrMalformedRecord, r.Process)
	case ValidateInstanceID(r.ID) != nil:
		return Record{}, fmt.Errorf("%w: instance id %q", ErrMalformedRecord, r.ID)
	case r.Status != StatusRunning && r.Status != StatusEnded:
		return Record{}, fmt.Errorf("%w: status %q", ErrMalformedRecord, r.Status)
	case len(r.State) == 0 || !json.Valid(r.State):
		return Record{}, fmt.Errorf("%w: state is not JSON", ErrMalformedRecord)
	case r.Steps < 0:
		return Record{}, fmt.Errorf("%w: steps %d", ErrMalformedRecord, r.Steps)
	}
	for _, e := range r.Pending {
		if e.Kind != EffectCommand && e.Kind != EffectDeadline && e.Kind != EffectCancel {
			return Record{}, fmt.Errorf("%w: effect kind %q", ErrMalformedRecord, e.Kind)
		}
		if e.ID == "" {
			return Record{}, fmt.Errorf("%w: effect without id", ErrMalformedRecord)
		}
	}
	return r, nil
}

// handled reports whether msgID is among the messages handled.
func (r *Record) handled(msgID string) bool {
	return slices.ContainsFunc(r.Handled, func(h Handled) bool { return h.ID == msgID })
}

// pendingOf returns the effects msgID's step left pending.
func (r *Record) pendingOf(msgID string) []Effect {
	var out []Effect
	for _, e := range r.Pending {
		if e.Message == msgID {
			out = append(out, e)
		}
	}
	return out
}

// clone is a deep enough copy to change the slices of.
func (r *Record) clone() *Record {
	c := *r
	c.Deadlines = slices.Clone(r.Deadlines)
	c.Handled = slices.Clone(r.Handled)
	c.Pending = slices.Clone(r.Pending)
	return &c
}
