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

	"github.com/jetflow/jetflow/wire"
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
	// FirstSequence and LastSequence are the stream sequence of the
	// commit: one, since a commit is one message. (They were the first
	// and last of an append's messages in the format before commits.)
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
// be the aggregate's current last commit (zero for a new aggregate), else
// nothing is stored and the error matches ErrConcurrencyConflict. The
// events are one commit: one message on the aggregate's subject, stored
// whole or not at all, whose stream sequence is every event's Sequence.
//
// The store fills each event's aggregate type and id, version, id (a new
// UUIDv7 unless set), schema (1 unless set), occurred-at and source. A
// commit whose events (by id) are already stored right after `after` (a
// retry after a lost ack) reports success without being stored twice. A
// commit whose first event's id is stored anywhere else (another
// aggregate, or earlier on this one) stores nothing and returns a
// *DuplicateEventError matching ErrDuplicateEventID, not a conflict: the
// same events would collide again after a reload. When after.Sequence is
// set but after.Version is zero, the version is read from the stored
// commit; a version without a sequence is refused with ErrInvalidPosition.
//
// Two events of one append with the same id are refused with
// ErrInvalidEvent, and a commit larger than the server's max payload with
// a *PayloadTooLargeError, before anything is sent.
//
// Append returns when ctx ends, whatever it was doing. If the commit may
// have been stored by then (sent, no ack yet), or the server refused an
// append and whether an earlier attempt of it was stored could not be read
// (the stream's leader did not answer, as during an election, until ctx
// ended), the error is an *OutcomeUnknownError matching ErrOutcomeUnknown:
// append its Events again at the same position to settle it. A ctx that
// ends before anything is sent stores nothing and returns ctx's error,
// never ErrOutcomeUnknown.
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
	stored, msg, err := s.prepare(aggregateType, aggregateID, after, events)
	if err != nil {
		return AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return AppendResult{}, fmt.Errorf("streams: append to %s %s: nothing sent: %w", aggregateType, aggregateID, err)
	}
	ack, err := s.publishChecked(ctx, msg)
	if unsure(err) {
		return AppendResult{}, &OutcomeUnknownError{AggregateType: aggregateType, AggregateID: aggregateID, After: after, Events: stored, Cause: err}
	}
	if err != nil || ack.Duplicate {
		var dup uint64
		if err == nil {
			dup = ack.Sequence // a duplicate's sequence is the stored copy's
		}
		return s.resolveFailedAppend(ctx, aggregateType, aggregateID, after, stored, dup, err)
	}
	return finish(stored, ack.Sequence), nil
}

// publishChecked publishes a commit, sending it again while a clustered
// leader answers 10164: it cannot check the expected sequence because a
// message on the same subject is still being applied — often this
// aggregate's previous commit, acknowledged a moment before its
// bookkeeping was cleared. The same message id keeps the commit stored
// once; after inProcessPatience the refusal stands (and is judged as a
// conflict).
func (s *Store) publishChecked(ctx context.Context, msg *nats.Msg) (pubAck, error) {
	ack, err := s.publish(ctx, msg)
	for wait := time.Millisecond; apiErrorCode(err) == errCodeWrongLastSequenceConstant && wait <= inProcessPatience; wait *= 2 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ack, err
		case <-t.C:
		}
		ack, err = s.publish(ctx, msg)
	}
	return ack, err
}

// unsure reports a publish error after which the append may or may not be
// stored: the request went out and no answer came.
func unsure(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrConnectionClosed) ||
		errors.Is(err, nats.ErrConnectionDraining) || errors.Is(err, nats.ErrDisconnected)
}

func apiErrorCode(err error) jetstream.ErrorCode {
	if err == nil {
		return 0 // without the allocation errors.As costs
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}

// prepare fills the envelopes and builds the commit's message, checking
// everything that can be checked before a byte is sent.
func (s *Store) prepare(aggregateType, aggregateID string, after Position, events []Event) ([]Event, *nats.Msg, error) {
	stored, err := PrepareAppend(AppendDefaults{
		Now: s.now().UTC(), Source: s.source, MaxPayload: int(s.js.Conn().MaxPayload()),
	}, aggregateType, aggregateID, after, events)
	if err != nil {
		return nil, nil, err
	}
	msg := &nats.Msg{Subject: s.Subject(aggregateType, aggregateID), Data: encodeCommit(after.Sequence, stored), Header: commitHeader(&stored[0], after.Sequence)}
	return stored, msg, nil
}

// commitHeader is what a commit's message carries besides its body: the
// id the server deduplicates it by (its first event's), the expectation it
// checks, and the first event's correlation, causation, user and trace
// context, so that a consumer of the stream (a worker, the nats CLI) sees
// who caused the commit without decoding it. The body is what a load
// reads, and it reads no header.
func commitHeader(first *Event, after uint64) nats.Header {
	fields := commitHeaderFields(first)
	// One backing array for every value: a single writer's append waits
	// for each allocation.
	values := make([]string, 2, 2+len(fields))
	values[0], values[1] = first.ID, strconv.FormatUint(after, 10)
	h := make(nats.Header, 2+len(fields))
	h[wire.HeaderMsgID] = values[0:1:1]
	h[headerExpectedLastSubjectSeq] = values[1:2:2]
	for _, f := range fields {
		if f.value != "" {
			values = append(values, f.value)
			n := len(values)
			h[f.name] = values[n-1 : n : n]
		}
	}
	return h
}

type headerField struct{ name, value string }

func commitHeaderFields(e *Event) [4]headerField {
	return [4]headerField{
		{wire.HeaderCorrelationID, e.Metadata.CorrelationID}, {wire.HeaderCausationID, e.Metadata.CausationID},
		{wire.HeaderUserID, e.Metadata.UserID}, {wire.HeaderTraceParent, e.Metadata.TraceParent},
	}
}

// commitHeaderBytes is the wire size of commitHeader with the longest
// values it can have, so a commit checked against the max payload fits.
func commitHeaderBytes(first *Event) int {
	n := len("NATS/1.0\r\n\r\n") + len(wire.HeaderMsgID) + 2 + len(first.ID) + 2 +
		len(headerExpectedLastSubjectSeq) + 2 + 20 + 2
	for _, f := range commitHeaderFields(first) {
		if f.value != "" {
			n += len(f.name) + 2 + len(f.value) + 2
		}
	}
	return n
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
// what is wrong), two events with one id, a commit too large for one
// message (*PayloadTooLargeError; the bound counts each event's largest
// encoding, so what it accepts always fits). A store of another kind (the test kit's
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
		stored[i] = ev
	}
	if d.MaxPayload > 0 {
		size := commitHeaderBytes(&stored[0]) + commitBodyOverhead(aggregateType, aggregateID)
		for i := range stored {
			if size += stored[i].encodedSize(); size > d.MaxPayload {
				return nil, &PayloadTooLargeError{Index: i, Size: size, Max: d.MaxPayload}
			}
		}
	}
	return stored, nil
}

// finish is the result of a commit stored at seq.
func finish(stored []Event, seq uint64) AppendResult {
	for i := range stored {
		stored[i].Sequence = seq
	}
	return AppendResult{
		FirstSequence: seq,
		LastSequence:  seq,
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
	duplicate := cause == nil
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
	if conflict && known && actual > after.Sequence && err == nil && ours == nil {
		ours, err = s.awaitConflicting(ctx, aggregateType, aggregateID, after.Sequence, actual, stored)
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

// awaitConflicting judges a conflict whose commit is not readable yet. A
// clustered leader checks the expected sequence against what it has
// proposed, and its reads see only what it has applied: right after a
// leader change, the commit at actual (the subject's last sequence the
// refusal names) may be proposed but not applied — and it may be this
// append's own first attempt, sent to the old leader. Wait until that
// commit is readable (up to inProcessPatience), then check whether the
// events after seq are this append's.
func (s *Store) awaitConflicting(ctx context.Context, aggregateType, aggregateID string, seq, actual uint64, events []Event) (*AppendResult, error) {
	subject := s.Subject(aggregateType, aggregateID)
	for wait := inProcessPoll; ; wait *= 2 {
		evs, err := s.leaderNext(ctx, subject, actual)
		if err != nil {
			return nil, err
		}
		if len(evs) > 0 {
			return s.checkStoredAfter(ctx, aggregateType, aggregateID, seq, events)
		}
		if wait > inProcessPatience {
			return nil, nil // never applied (lost with its leader): a conflict with nothing of ours
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for the conflicting commit at sequence %d: %w", actual, ctx.Err())
		case <-t.C:
		}
	}
}

// duplicateEventError describes an id stored elsewhere than right after the
// append's position; seq is the stored copy's sequence when known, else 0.
func (s *Store) duplicateEventError(ctx context.Context, aggregateType, aggregateID string, stored []Event, seq uint64) error {
	// The server deduplicates a commit by its first event's id.
	de := &DuplicateEventError{AggregateType: aggregateType, AggregateID: aggregateID, Sequence: seq, EventID: stored[0].ID}
	if seq == 0 {
		return de
	}
	// The first of this aggregate's commits from seq on is the stored copy
	// exactly when the copy is this aggregate's.
	evs, err := s.leaderNext(ctx, s.Subject(aggregateType, aggregateID), seq)
	if err != nil {
		de.ReadErr = err
		return de
	}
	for _, ev := range evs {
		if ev.Sequence == seq && ev.ID == de.EventID {
			de.Version = ev.Version
		}
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

// storedAfter returns the append result if the aggregate's events right
// after seq are exactly the given events (same ids, in order), else nil.
// They are one commit, or — an aggregate written before commits — as many
// one-event messages.
func (s *Store) storedAfter(ctx context.Context, aggregateType, aggregateID string, seq uint64, events []Event) (*AppendResult, error) {
	found := make([]Event, 0, len(events))
	subject := s.Subject(aggregateType, aggregateID)
	for next := seq; len(found) < len(events); {
		if next == math.MaxUint64 {
			return nil, nil // nothing follows; next+1 would wrap to the start
		}
		evs, err := s.leaderNext(ctx, subject, next+1)
		if err != nil {
			return nil, err
		}
		if len(evs) == 0 || len(found)+len(evs) > len(events) {
			return nil, nil
		}
		for _, ev := range evs {
			if ev.ID != events[len(found)].ID {
				return nil, nil
			}
			found = append(found, ev)
		}
		next = evs[0].Sequence
	}
	return &AppendResult{
		FirstSequence: found[0].Sequence,
		LastSequence:  found[len(found)-1].Sequence,
		Version:       found[len(found)-1].Version,
		Events:        found,
	}, nil
}

// versionAt reads the version the aggregate is at after its commit stored
// at seq.
func (s *Store) versionAt(ctx context.Context, aggregateType, aggregateID string, seq uint64) (uint64, error) {
	var version uint64
	for ev, err := range s.scan(ctx, s.Subject(aggregateType, aggregateID), seq, 1) {
		if err != nil {
			return 0, err
		}
		if ev.Sequence != seq {
			break
		}
		version = ev.Version // the commit's last event is yielded last
	}
	if version == 0 {
		return 0, &ConflictError{AggregateType: aggregateType, AggregateID: aggregateID, ExpectedSequence: seq}
	}
	return version, nil
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
