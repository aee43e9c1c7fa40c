package streams

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Position is where an aggregate stands: the stream sequence of its last
// event (the concurrency token) and its version (count of its events).
// The zero Position is a new aggregate.
type Position struct {
	Sequence uint64 `json:"sequence"`
	Version  uint64 `json:"version"`
}

// AppendResult describes a successful append.
type AppendResult struct {
	FirstSequence uint64
	LastSequence  uint64
	// Version is the aggregate's version after the append.
	Version uint64
	// Events are the stored events, with ids, versions and sequences set.
	Events []Event
}

// Position is the aggregate's position after the append.
func (r AppendResult) Position() Position {
	return Position{Sequence: r.LastSequence, Version: r.Version}
}

// Server error codes for a failed expected-sequence check (DESIGN.md).
const (
	errCodeWrongLastSequence         jetstream.ErrorCode = 10071
	errCodeWrongLastSequenceConstant jetstream.ErrorCode = 10164
)

// Append stores events for one aggregate after position `after`, which must
// be the aggregate's current last event (zero for a new aggregate), else
// nothing is stored and the error matches ErrConcurrencyConflict. One event is
// one publish; several are one atomic batch: all are stored or none.
//
// The store fills each event's aggregate type and id, version, id (a new
// UUIDv7 unless set), schema (1 unless set), occurred-at and source. Events
// with ids already stored (a retry after a lost ack) report success without
// being stored twice. When after.Sequence is set but after.Version is zero,
// the version is read from the stored event.
func (s *Store) Append(ctx context.Context, aggregateType, aggregateID string, after Position, events ...Event) (AppendResult, error) {
	if err := ValidateAggregateType(aggregateType); err != nil {
		return AppendResult{}, err
	}
	if err := ValidateAggregateID(aggregateID); err != nil {
		return AppendResult{}, err
	}
	switch {
	case len(events) == 0:
		return AppendResult{}, ErrNoEvents
	case len(events) > s.cfg.MaxEventsPerAppend:
		return AppendResult{}, fmt.Errorf("%w: %d events, at most %d allowed", ErrTooManyEvents, len(events), s.cfg.MaxEventsPerAppend)
	}
	if after.Sequence > 0 && after.Version == 0 {
		v, err := s.versionAt(ctx, aggregateType, aggregateID, after.Sequence)
		if err != nil {
			return AppendResult{}, err
		}
		after.Version = v
	}
	subject := s.Subject(aggregateType, aggregateID)
	stored, msgs, err := s.prepare(aggregateType, aggregateID, subject, after, events)
	if err != nil {
		return AppendResult{}, err
	}
	msgs[0].Header.Set(headerExpectedLastSubjectSeq, strconv.FormatUint(after.Sequence, 10))

	var last uint64
	var duplicate bool
	if len(msgs) == 1 {
		var ack *jetstream.PubAck
		ack, err = s.js.PublishMsg(ctx, msgs[0])
		if err == nil {
			last, duplicate = ack.Sequence, ack.Duplicate
		}
	} else {
		var ack *jetstreamext.BatchAck
		// No ack on the first message: the commit's reply carries any
		// error, and the round trip is the floor of an append's cost.
		ack, err = jetstreamext.PublishMsgBatch(ctx, s.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
		if err == nil {
			last = ack.Sequence
		}
	}
	if err != nil || duplicate {
		return s.resolveFailedAppend(ctx, aggregateType, aggregateID, after, stored, err)
	}
	return finish(stored, last-uint64(len(stored))+1), nil
}

// prepare fills the envelopes and builds the messages, checking everything
// that can be checked before a byte is sent.
func (s *Store) prepare(aggregateType, aggregateID, subject string, after Position, events []Event) ([]Event, []*nats.Msg, error) {
	maxPayload := int(s.js.Conn().MaxPayload())
	now := s.now().UTC()
	stored := make([]Event, len(events))
	msgs := make([]*nats.Msg, len(events))
	for i, ev := range events {
		ev.AggregateType = aggregateType
		ev.AggregateID = aggregateID
		ev.Version = after.Version + uint64(i) + 1
		ev.Sequence = 0
		if ev.ID == "" {
			ev.ID = NewEventID()
		}
		if ev.Schema == 0 {
			ev.Schema = 1
		}
		if ev.OccurredAt.IsZero() {
			ev.OccurredAt = now
		}
		if ev.Metadata.Source == "" {
			ev.Metadata.Source = s.source
		}
		if err := ev.validateForAppend(i); err != nil {
			return nil, nil, err
		}
		msg := &nats.Msg{Subject: subject, Header: ev.header(), Data: ev.Data}
		// Room for the expectation and batch headers added later.
		const reserved = 160
		if size := headerSize(msg.Header) + len(msg.Data) + reserved; maxPayload > 0 && size > maxPayload {
			return nil, nil, &PayloadTooLargeError{Index: i, Size: size, Max: maxPayload}
		}
		stored[i], msgs[i] = ev, msg
	}
	return stored, msgs, nil
}

func finish(stored []Event, first uint64) AppendResult {
	for i := range stored {
		stored[i].Sequence = first + uint64(i)
	}
	return AppendResult{
		FirstSequence: first,
		LastSequence:  first + uint64(len(stored)) - 1,
		Version:       stored[len(stored)-1].Version,
		Events:        stored,
	}
}

// resolveFailedAppend decides what a rejected or duplicate append means.
// A retry of an append that was stored (its ack was lost) is refused as a
// wrong sequence by a standalone server and acked as a duplicate by a
// cluster; either way, if the aggregate's next events are ours, the append
// succeeded.
func (s *Store) resolveFailedAppend(ctx context.Context, aggregateType, aggregateID string, after Position, stored []Event, cause error) (AppendResult, error) {
	conflict, actual, known := classifyConflict(cause)
	if cause != nil && !conflict && !isDuplicateBatch(cause) {
		return AppendResult{}, fmt.Errorf("streams: append to %s %s: %w", aggregateType, aggregateID, cause)
	}
	ours, err := s.storedAfter(ctx, aggregateType, aggregateID, after.Sequence, stored)
	if err != nil {
		return AppendResult{}, fmt.Errorf("streams: append to %s %s: checking for an earlier attempt after %v: %w", aggregateType, aggregateID, cause, err)
	}
	if ours != nil {
		return *ours, nil
	}
	return AppendResult{}, &ConflictError{
		AggregateType: aggregateType, AggregateID: aggregateID,
		ExpectedSequence: after.Sequence, ActualSequence: actual, Known: known,
	}
}

// storedAfter returns the append result if the events right after seq are
// exactly the given events (same ids, in order), else nil.
func (s *Store) storedAfter(ctx context.Context, aggregateType, aggregateID string, seq uint64, events []Event) (*AppendResult, error) {
	found := make([]Event, 0, len(events))
	for ev, err := range s.scan(ctx, s.Subject(aggregateType, aggregateID), seq+1, len(events)) {
		if err != nil {
			return nil, err
		}
		if ev.ID != events[len(found)].ID {
			return nil, nil
		}
		found = append(found, ev)
		if len(found) == len(events) {
			break
		}
	}
	if len(found) < len(events) {
		return nil, nil
	}
	return &AppendResult{
		FirstSequence: found[0].Sequence,
		LastSequence:  found[len(found)-1].Sequence,
		Version:       found[len(found)-1].Version,
		Events:        found,
	}, nil
}

// versionAt reads the version of the aggregate's event stored at seq.
func (s *Store) versionAt(ctx context.Context, aggregateType, aggregateID string, seq uint64) (uint64, error) {
	for ev, err := range s.scan(ctx, s.Subject(aggregateType, aggregateID), seq, 1) {
		if err != nil {
			return 0, err
		}
		if ev.Sequence == seq {
			return ev.Version, nil
		}
		break
	}
	return 0, &ConflictError{AggregateType: aggregateType, AggregateID: aggregateID, ExpectedSequence: seq}
}

// classifyConflict reports whether err is a failed expected-sequence check
// and, when the server said it, the aggregate's actual last sequence.
func classifyConflict(err error) (conflict bool, actual uint64, known bool) {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false, 0, false
	}
	switch apiErr.ErrorCode {
	case errCodeWrongLastSequence:
		// "wrong last sequence: 42"
		if i := strings.LastIndexByte(apiErr.Description, ':'); i >= 0 {
			if n, perr := strconv.ParseUint(strings.TrimSpace(apiErr.Description[i+1:]), 10, 64); perr == nil {
				return true, n, true
			}
		}
		return true, 0, false
	case errCodeWrongLastSequenceConstant:
		return true, 0, false
	}
	return false, 0, false
}

func isDuplicateBatch(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstreamext.JSErrCodeBatchPublishDuplicateMsgID
}
