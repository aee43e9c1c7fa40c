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
)

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

// PayloadTooLargeError names the event that does not fit.
type PayloadTooLargeError struct {
	Index int // position in the append
	Size  int // bytes on the wire, headers included
	Max   int // the server's max payload
}

func (e *PayloadTooLargeError) Error() string {
	return fmt.Sprintf("streams: event %d is %d bytes with headers, the server accepts at most %d", e.Index, e.Size, e.Max)
}

func (e *PayloadTooLargeError) Is(target error) bool { return target == ErrPayloadTooLarge }
