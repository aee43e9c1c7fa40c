package streams

import (
	"errors"
	"fmt"
)

var (
	// ErrConcurrencyConflict is returned when an append's expectation about
	// the aggregate's last event no longer holds: someone else appended first.
	ErrConcurrencyConflict = errors.New("streams: concurrency conflict")
	// ErrTooManyEvents is returned before sending an append larger than allowed.
	ErrTooManyEvents = errors.New("streams: too many events in one append")
	// ErrPayloadTooLarge is returned before sending an event larger than the server accepts.
	ErrPayloadTooLarge = errors.New("streams: event larger than the server's max payload")
	// ErrNoEvents is returned for an append without events.
	ErrNoEvents = errors.New("streams: append without events")
	// ErrSnapshotStale is returned when a snapshot is not newer than the stored one.
	ErrSnapshotStale = errors.New("streams: snapshot is not newer than the stored one")
	// ErrSnapshotNotFound is returned when an aggregate has no snapshot.
	ErrSnapshotNotFound = errors.New("streams: no snapshot")
	// ErrDuplicateEventID is returned when an event id of an append is
	// already stored and the stored events are not this append's own
	// earlier attempt. Nothing is stored; a new id, not a reload, fixes it.
	ErrDuplicateEventID = errors.New("streams: event id already stored")
	// ErrInvalidPosition is returned for a position that cannot exist, such
	// as a version without a sequence.
	ErrInvalidPosition = errors.New("streams: invalid position")
	// ErrStreamBusy was returned when the server kept refusing an atomic
	// batch because too many batches were open on the stream.
	//
	// Deprecated: a commit is one message; Append no longer returns it.
	ErrStreamBusy = errors.New("streams: event stream busy")
	// ErrOutcomeUnknown is returned when an append may or may not have been
	// stored: its ack did not come in time, or the server refused a resend
	// and whether an earlier attempt was stored could not be read. The
	// error is an *OutcomeUnknownError: appending its Events again at the
	// same position settles it (success if they were stored, a conflict if
	// something else was).
	ErrOutcomeUnknown = errors.New("streams: append outcome unknown")
)

// OutcomeUnknownError is an append that may or may not be stored. It
// matches ErrOutcomeUnknown and whatever cut it short (context.DeadlineExceeded,
// nats.ErrTimeout, ...).
//
// Events are the append's events as they were sent, ids included. Append
// them again after the same position to learn the outcome without storing
// anything twice: the store recognises its own earlier attempt by the ids
// (Append's doc), so the result is the stored events, or a conflict when
// another writer's events follow the position (then these were not stored),
// or, if they were not stored and nothing else was, they are stored now.
type OutcomeUnknownError struct {
	AggregateType string
	AggregateID   string
	After         Position
	Events        []Event
	// Cause is what the store met: the publish that got no ack, or the
	// read of the aggregate's events that failed.
	Cause error
}

func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("streams: append to %s %s after sequence %d: outcome unknown (append the same events again at the same position to settle it): %v",
		e.AggregateType, e.AggregateID, e.After.Sequence, e.Cause)
}

func (e *OutcomeUnknownError) Unwrap() []error { return []error{ErrOutcomeUnknown, e.Cause} }

// ConflictError says which expectation failed. It matches ErrConcurrencyConflict.
type ConflictError struct {
	AggregateType string
	AggregateID   string
	// ExpectedSequence is the stream sequence the append expected as the aggregate's last.
	ExpectedSequence uint64
	// ActualSequence is the aggregate's real last sequence when the server said it, else 0.
	ActualSequence uint64
	// Known reports whether ActualSequence came from the server.
	Known bool
}

func (e *ConflictError) Error() string {
	if e.Known {
		return fmt.Sprintf("streams: concurrency conflict on %s %s: expected last sequence %d, actual %d",
			e.AggregateType, e.AggregateID, e.ExpectedSequence, e.ActualSequence)
	}
	return fmt.Sprintf("streams: concurrency conflict on %s %s: expected last sequence %d no longer holds",
		e.AggregateType, e.AggregateID, e.ExpectedSequence)
}

func (e *ConflictError) Is(target error) bool { return target == ErrConcurrencyConflict }

// PayloadTooLargeError says that a commit does not fit in one message:
// the events before Index do, the one at Index does not.
type PayloadTooLargeError struct {
	Index int // position in the append of the first event that does not fit
	Size  int // bytes on the wire of the commit up to that event, headers included
	Max   int // the server's max payload
}

func (e *PayloadTooLargeError) Error() string {
	if e.Index == 0 {
		return fmt.Sprintf("streams: event 0 alone makes a commit of %d bytes with headers, the server accepts at most %d", e.Size, e.Max)
	}
	return fmt.Sprintf("streams: the commit is %d bytes with headers up to event %d, the server accepts at most %d: append fewer events at once (events 0 to %d fit)", e.Size, e.Index, e.Max, e.Index-1)
}

func (e *PayloadTooLargeError) Is(target error) bool { return target == ErrPayloadTooLarge }

// DuplicateEventError says which stored event an append collided with. It
// matches ErrDuplicateEventID and never ErrConcurrencyConflict: reloading
// and deciding again would send the same id again.
type DuplicateEventError struct {
	AggregateType string
	AggregateID   string
	// EventID is the id found stored: the first event's of the commit,
	// which the server deduplicates a commit by.
	EventID string
	// Sequence is the stream sequence of the stored copy when the server
	// said it, else 0.
	Sequence uint64
	// Version is the stored event's version when Sequence is known and the
	// stored event belongs to this aggregate, else 0.
	Version uint64
	// ReadErr is why the stored copy at Sequence could not be read (Version
	// is then unknown, not absent); nil when it was read or not tried.
	ReadErr error
}

func (e *DuplicateEventError) Error() string {
	msg := fmt.Sprintf("streams: append to %s %s: ", e.AggregateType, e.AggregateID)
	if e.EventID == "" {
		msg += "an event id of the batch is already stored"
	} else {
		msg += fmt.Sprintf("event id %s is already stored", e.EventID)
	}
	switch {
	case e.Version > 0:
		msg += fmt.Sprintf(" as this aggregate's version %d (sequence %d)", e.Version, e.Sequence)
	case e.Sequence > 0:
		msg += fmt.Sprintf(" at stream sequence %d", e.Sequence)
	}
	msg += "; nothing was stored"
	if e.ReadErr != nil {
		msg += fmt.Sprintf(" (reading the stored copy failed: %v)", e.ReadErr)
	}
	return msg
}

func (e *DuplicateEventError) Is(target error) bool { return target == ErrDuplicateEventID }
