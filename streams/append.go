package streams

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

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
	// errCodeDuplicateInProcess: an event id of the append is being stored
	// by another attempt right now (clustered streams).
	errCodeDuplicateInProcess jetstream.ErrorCode = 10158
)

// How long a retry waits, at most, for its first attempt in process.
const (
	inProcessPoll     = 5 * time.Millisecond
	inProcessPatience = 640 * time.Millisecond
)

// Append stores events for one aggregate after position `after`, which must
// be the aggregate's current last event (zero for a new aggregate), else
// nothing is stored and the error matches ErrConcurrencyConflict. One event is
// one publish; several are one atomic batch: all are stored or none.
//
// The store fills each event's aggregate type and id, version, id (a new
// UUIDv7 unless set), schema (1 unless set), occurred-at and source. Events
// with ids already stored right after `after` (a retry after a lost ack)
// report success without being stored twice. An id stored anywhere else
// (another aggregate, or earlier on this one) stores nothing and returns a
// *DuplicateEventError matching ErrDuplicateEventID, not a conflict: the
// same events would collide again after a reload. When after.Sequence is
// set but after.Version is zero, the version is read from the stored event;
// a version without a sequence is refused with ErrInvalidPosition.
//
// Two events of one append with the same id are refused with
// ErrInvalidEvent before anything is sent. A batch the server refuses
// because too many batches are open on the stream is sent again a few
// times (see Config.MaxConcurrentBatches), then fails with ErrStreamBusy.
//
// Append returns when ctx ends, whatever it was doing. If the events may
// have been stored by then (sent, no ack yet), or the server refused an
// append and whether an earlier attempt of it was stored could not be read
// (the stream's leader did not answer, as during an election, until ctx
// ended), the error is an *OutcomeUnknownError matching ErrOutcomeUnknown:
// append its Events again at the same position to settle it. A batch
// already sent is still committed or abandoned on the server within the
// JetStream timeout (default 5 s) after Append returned, so the outcome is
// settled by then; a ctx that ends before anything is sent stores nothing
// and returns ctx's error, never ErrOutcomeUnknown.
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
	if after.Sequence == 0 && after.Version != 0 {
		return AppendResult{}, fmt.Errorf("%w: version %d without a sequence; a new aggregate is at sequence 0 and version 0", ErrInvalidPosition, after.Version)
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

	if err := ctx.Err(); err != nil {
		return AppendResult{}, fmt.Errorf("streams: append to %s %s: nothing sent: %w", aggregateType, aggregateID, err)
	}
	var last uint64
	var duplicate bool
	if len(msgs) == 1 {
		var ack *jetstream.PubAck
		ack, err = s.js.PublishMsg(ctx, msgs[0])
		if err == nil {
			// A duplicate's sequence is the stored copy's.
			last, duplicate = ack.Sequence, ack.Duplicate
		}
	} else {
		var ack *jetstreamext.BatchAck
		ack, err = s.publishBatch(ctx, msgs)
		if err == nil {
			last = ack.Sequence
		}
	}
	if unsure(err) {
		return AppendResult{}, &OutcomeUnknownError{AggregateType: aggregateType, AggregateID: aggregateID, After: after, Events: stored, Cause: err}
	}
	if err != nil || duplicate {
		return s.resolveFailedAppend(ctx, aggregateType, aggregateID, after, stored, last, err)
	}
	return finish(stored, last-uint64(len(stored))+1), nil
}

// Retries of a batch refused because the stream has too many open batches.
const (
	busyRetries = 5
	busyBackoff = 5 * time.Millisecond
)

// publishBatch publishes msgs as one atomic batch, at most
// MaxConcurrentBatches at a time per store. A batch the server refused as
// one too many in flight stored nothing, so sending it again (same ids,
// same expectation) is safe.
func (s *Store) publishBatch(ctx context.Context, msgs []*nats.Msg) (*jetstreamext.BatchAck, error) {
	wait := busyBackoff
	for attempt := 0; ; attempt++ {
		ack, err := s.publishBatchOnce(ctx, msgs)
		if code := apiErrorCode(err); err == nil ||
			code != jetstreamext.JSErrCodeAtomicPublishTooManyInflight && code != jetstreamext.JSErrCodeBatchPublishIncomplete {
			return ack, err
		}
		if attempt == busyRetries {
			// The server drops a refused first message without an answer
			// (acking it does not help), so the reason is not known here.
			return nil, fmt.Errorf("%w: the server refused the batch %d times without saying why (too many batches open on the stream, or a limit such as the account's storage): %w", ErrStreamBusy, attempt+1, err)
		}
		s.log.DebugContext(ctx, "atomic batch refused, stream busy: retrying", "attempt", attempt+1, "error", err)
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errNotSent{fmt.Errorf("%w (the stream was busy: %v)", ctx.Err(), err)}
		case <-t.C:
		}
		wait *= 2
	}
}

func (s *Store) publishBatchOnce(ctx context.Context, msgs []*nats.Msg) (*jetstreamext.BatchAck, error) {
	if err := ctx.Err(); err != nil {
		return nil, errNotSent{err}
	}
	select {
	case s.batches <- struct{}{}:
	case <-ctx.Done():
		return nil, errNotSent{ctx.Err()}
	}
	if err := ctx.Err(); err != nil { // both were ready: select picked at random
		<-s.batches
		return nil, errNotSent{err}
	}
	// Once its first message is out, a batch is finished whatever the
	// caller's ctx does: a batch left without its commit stays open on the
	// server (taking one of its 50 slots per stream) until it times out.
	// So it runs on its own, bounded by the JetStream timeout and holding
	// its slot, while the caller waits only as long as its ctx allows.
	type result struct {
		ack *jetstreamext.BatchAck
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() { <-s.batches }()
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.gets.timeout)
		defer cancel()
		// No ack on the first message: the commit's reply carries any
		// error, and the round trip is the floor of an append's cost.
		ack, err := jetstreamext.PublishMsgBatch(bctx, s.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
		done <- result{ack, err}
	}()
	select {
	case r := <-done:
		return r.ack, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no commit ack before the caller's deadline: %w", ctx.Err())
	}
}

// unsure reports a publish error after which the append may or may not be
// stored: the request went out and no answer came.
func unsure(err error) bool {
	if errors.As(err, new(errNotSent)) {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionDraining) || errors.Is(err, nats.ErrDisconnected)
}

// errNotSent is a batch given up before its first message went out: the
// outcome is known (nothing stored), whatever the cause.
type errNotSent struct{ error }

func (e errNotSent) Unwrap() error { return e.error }

func apiErrorCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// prepare fills the envelopes and builds the messages, checking everything
// that can be checked before a byte is sent.
func (s *Store) prepare(aggregateType, aggregateID, subject string, after Position, events []Event) ([]Event, []*nats.Msg, error) {
	stored, err := PrepareAppend(AppendDefaults{
		Now: s.now().UTC(), Source: s.source, MaxPayload: int(s.js.Conn().MaxPayload()),
	}, aggregateType, aggregateID, after, events)
	if err != nil {
		return nil, nil, err
	}
	msgs := make([]*nats.Msg, len(stored))
	for i := range stored {
		msgs[i] = &nats.Msg{Subject: subject, Header: stored[i].header(), Data: stored[i].Data}
	}
	return stored, msgs, nil
}

// AppendDefaults are what PrepareAppend fills in and bounds by.
type AppendDefaults struct {
	// Now is the occurred-at of events without one.
	Now time.Time
	// Source is the source of events without one.
	Source string
	// MaxPayload bounds one event's message, headers included (0: none).
	MaxPayload int
}

// PrepareAppend returns events as Append stores them after position after
// of the aggregate — ids (UUIDv7), versions, schema 1, occurred-at and
// source filled in where missing — or the error Append returns for them
// before anything is sent: an invalid event (ErrInvalidEvent, naming it and
// what is wrong), two events with one id, an event too large
// (*PayloadTooLargeError). A store of another kind (the test kit's
// in-memory one) calls it so that both fill and refuse alike.
func PrepareAppend(d AppendDefaults, aggregateType, aggregateID string, after Position, events []Event) ([]Event, error) {
	stored := make([]Event, len(events))
	var ids map[string]int
	if len(events) > 1 {
		ids = make(map[string]int, len(events))
	}
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
			ev.OccurredAt = d.Now.UTC()
		}
		if ev.Metadata.Source == "" {
			ev.Metadata.Source = d.Source
		}
		if err := ev.validateForAppend(i); err != nil {
			return nil, err
		}
		if ids != nil {
			// The server refuses the whole batch, with an error that does
			// not say why.
			if j, ok := ids[ev.ID]; ok {
				return nil, fmt.Errorf("%w: events %d and %d have the same id %q", ErrInvalidEvent, j, i, ev.ID)
			}
			ids[ev.ID] = i
		}
		// Room for the expectation and batch headers added when sent.
		const reserved = 160
		if size := ev.messageSize() + reserved; d.MaxPayload > 0 && size > d.MaxPayload {
			return nil, &PayloadTooLargeError{Index: i, Size: size, Max: d.MaxPayload}
		}
		stored[i] = ev
	}
	return stored, nil
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
// succeeded. dupSeq is the stored copy's sequence of a duplicate single
// publish (cause nil).
func (s *Store) resolveFailedAppend(ctx context.Context, aggregateType, aggregateID string, after Position, stored []Event, dupSeq uint64, cause error) (AppendResult, error) {
	conflict, actual, known := classifyConflict(cause)
	duplicate := cause == nil || isDuplicateBatch(cause)
	// On a cluster, a retry meeting its first attempt still being stored is
	// told so (10158): wait for that attempt, then judge it like any other.
	inProcess := apiErrorCode(cause) == errCodeDuplicateInProcess
	if !conflict && !duplicate && !inProcess {
		return AppendResult{}, fmt.Errorf("streams: append to %s %s: %w", aggregateType, aggregateID, cause)
	}
	ours, err := s.checkStoredAfter(ctx, aggregateType, aggregateID, after.Sequence, stored)
	for wait := inProcessPoll; inProcess && err == nil && ours == nil && wait <= inProcessPatience; wait *= 2 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			err = fmt.Errorf("waiting for an attempt in process: %w", ctx.Err())
		case <-t.C:
			ours, err = s.checkStoredAfter(ctx, aggregateType, aggregateID, after.Sequence, stored)
		}
	}
	if inProcess && err == nil && ours == nil {
		duplicate = true // stored elsewhere, or still not stored: not ours here
	}
	if err != nil {
		reason := "the server reported a duplicate event id"
		if cause != nil {
			reason = "the server refused it (" + cause.Error() + ")"
		}
		return AppendResult{}, &OutcomeUnknownError{
			AggregateType: aggregateType, AggregateID: aggregateID, After: after, Events: stored,
			Cause: fmt.Errorf("%s, and whether an earlier attempt was stored could not be read: %w", reason, err),
		}
	}
	if ours != nil {
		return *ours, nil
	}
	if duplicate {
		return AppendResult{}, s.duplicateEventError(ctx, aggregateType, aggregateID, stored, dupSeq)
	}
	return AppendResult{}, &ConflictError{
		AggregateType: aggregateType, AggregateID: aggregateID,
		ExpectedSequence: after.Sequence, ActualSequence: actual, Known: known,
	}
}

// duplicateEventError describes an id stored elsewhere than right after the
// append's position; seq is the stored copy's sequence when known, else 0.
func (s *Store) duplicateEventError(ctx context.Context, aggregateType, aggregateID string, stored []Event, seq uint64) error {
	de := &DuplicateEventError{AggregateType: aggregateType, AggregateID: aggregateID, Sequence: seq}
	if len(stored) == 1 {
		de.EventID = stored[0].ID
	}
	if seq == 0 {
		return de
	}
	// The first of this aggregate's events from seq on is the stored copy
	// exactly when the copy is this aggregate's.
	ev, ok, err := s.leaderNext(ctx, s.Subject(aggregateType, aggregateID), seq)
	if err != nil {
		return fmt.Errorf("%w; reading the stored copy: %w", de, err)
	}
	if ok && ev.Sequence == seq {
		de.Version = ev.Version
	}
	return de
}

// How the check for an earlier attempt is retried when the leader does not
// answer (an election takes seconds): attempts bounded so that several fit
// in the caller's deadline, and a total bound when the caller set none.
const (
	checkAttemptTimeout = time.Second
	checkFirstBackoff   = 25 * time.Millisecond
	checkMaxBackoff     = 500 * time.Millisecond
)

// checkStoredAfter is storedAfter, asked again while the stream's leader
// cannot answer, until the caller's deadline (or, without one, three
// JetStream timeouts) runs out.
func (s *Store) checkStoredAfter(ctx context.Context, aggregateType, aggregateID string, seq uint64, events []Event) (*AppendResult, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 3*s.gets.timeout)
		defer cancel()
	}
	wait := checkFirstBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, checkAttemptTimeout)
		ours, err := s.storedAfter(actx, aggregateType, aggregateID, seq, events)
		cancel()
		if err == nil || !transient(err) {
			return ours, err
		}
		s.log.DebugContext(ctx, "reading the aggregate's events on the leader failed, retrying", "aggregate_type", aggregateType, "aggregate_id", aggregateID, "attempt", attempt, "error", err)
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%d attempts: %w", attempt, err)
		case <-t.C:
		}
		wait = min(2*wait, checkMaxBackoff)
	}
}

// storedAfter returns the append result if the events right after seq are
// exactly the given events (same ids, in order), else nil.
func (s *Store) storedAfter(ctx context.Context, aggregateType, aggregateID string, seq uint64, events []Event) (*AppendResult, error) {
	if seq == math.MaxUint64 {
		return nil, nil // nothing follows; seq+1 would wrap to the start
	}
	found := make([]Event, 0, len(events))
	subject := s.Subject(aggregateType, aggregateID)
	for next := seq + 1; len(found) < len(events); {
		ev, ok, err := s.leaderNext(ctx, subject, next)
		if err != nil {
			return nil, err
		}
		if !ok || ev.ID != events[len(found)].ID {
			return nil, nil
		}
		found = append(found, ev)
		next = ev.Sequence + 1
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
