package jetflowtest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/streams"
)

// DefaultMaxPayload is the largest event message, headers included, that
// an EventStore accepts unless told otherwise (WithMaxPayload): the
// max_payload of jetflow's embedded server, of its nats.conf and of
// RunServer, 8 MiB. A bare nats-server accepts 1 MiB.
const DefaultMaxPayload = 8 << 20

// EventStore is an in-memory event store for tests: an
// aggregates.EventStore that keeps the promises of a *streams.Store on
// JetStream, so an aggregates.Repository (or any code written against
// aggregates.EventStore) can be tested without a NATS server. A
// conformance suite runs the same table of behaviours against both.
//
// What it does as streams.Store does on a standalone server:
//   - An append is one commit, at one stream sequence: sequences are
//     global and start at 1; versions count each aggregate's events from 1.
//   - Append stores every event or none, after the aggregate's position
//     (the zero Position for a new aggregate). An aggregate that moved on
//     is a *streams.ConflictError (matching streams.ErrConcurrencyConflict)
//     with the expected and the actual last sequence.
//   - An append whose event ids are the commit stored right after its
//     position (a resend after a lost ack) returns the stored result
//     without storing anything again; a commit whose first event's id is
//     stored anywhere else within the duplicate window is a
//     *streams.DuplicateEventError, with the same fields streams.Store sets.
//   - It validates the aggregate type and id, the position and the events,
//     and fills in the events' ids (UUIDv7), schema, occurred-at and
//     source, with the same rules and the same error messages.
//   - Load and ReadAll yield events in stream order as they were stored
//     (occurred-at in UTC), upcast when WithUpcasters is set; the events of
//     an append's result are the caller's, filled in, not upcast.
//
// FailNextAppend and LoseNextAck make coming appends fail, to test what a
// caller does when the store fails or an ack is lost.
//
// It does not show what only a server does: a full or busy stream
// (streams.ErrStreamBusy), a leader changing, timing. It answers as a
// standalone server does, where a replicated stream may report a conflict
// without the actual sequence (ConflictError.Known false), and a
// one-event append at a stale position whose id is stored elsewhere as a
// duplicate rather than a conflict. It is safe for concurrent use.
type EventStore struct {
	now        func() time.Time
	source     string
	maxEvents  int
	maxPayload int
	window     time.Duration
	upcasters  *streams.Upcasters

	mu sync.Mutex
	// commits[i] are the events of the commit at stream sequence i+1, as
	// Load yields them before upcasting.
	commits [][]streams.Event
	// sequences lists each aggregate's commits' sequences in order.
	sequences map[aggregateKey][]uint64
	// ids are the stored commits' ids (their first event's), for the
	// duplicate window.
	ids    map[string]storedID
	faults []appendFault
}

var (
	_ aggregates.EventStore    = (*EventStore)(nil)
	_ aggregates.SnapshotStore = (*SnapshotStore)(nil)
)

type aggregateKey struct{ typ, id string }

type storedID struct {
	sequence uint64
	at       time.Time
}

// appendFault is what FailNextAppend or LoseNextAck asked of one append.
type appendFault struct {
	err     error
	lostAck bool
}

// EventStoreOption configures NewEventStore.
type EventStoreOption func(*EventStore)

// WithClock sets the clock that stamps the occurred-at of events that have
// none (default time.Now), as streams.WithClock does.
func WithClock(now func() time.Time) EventStoreOption {
	return func(s *EventStore) { s.now = now }
}

// WithSource sets the source written on events that name none (default
// streams.DefaultSource), as streams.WithSource does.
func WithSource(source string) EventStoreOption {
	return func(s *EventStore) { s.source = source }
}

// WithUpcasters applies u to every event Load and ReadAll yield, as
// streams.WithUpcasters does.
func WithUpcasters(u *streams.Upcasters) EventStoreOption {
	return func(s *EventStore) { s.upcasters = u }
}

// WithMaxEventsPerAppend caps one append, as streams.Config's
// MaxEventsPerAppend does: 1 to streams.MaxBatchEvents (the default).
func WithMaxEventsPerAppend(n int) EventStoreOption {
	return func(s *EventStore) { s.maxEvents = n }
}

// WithMaxPayload sets the largest event message in bytes, headers
// included, as the server's max_payload does (default DefaultMaxPayload).
func WithMaxPayload(n int) EventStoreOption {
	return func(s *EventStore) { s.maxPayload = n }
}

// WithDuplicateWindow sets how long a stored event id is remembered, so
// that appending it anywhere but right after its own position is refused
// as a duplicate, as streams.Config's DuplicateWindow does (default
// streams.DefaultDuplicateWindow). It is measured on the wall clock, as the
// server measures it, not on WithClock's clock.
func WithDuplicateWindow(d time.Duration) EventStoreOption {
	return func(s *EventStore) { s.window = d }
}

// NewEventStore returns an empty in-memory event store.
//
// It panics on an invalid option (a nil clock, a source a header cannot
// carry, a limit out of range), as regexp.MustCompile does for a bad
// pattern: the test itself is wrong.
func NewEventStore(opts ...EventStoreOption) *EventStore {
	s := &EventStore{
		now:        time.Now,
		source:     streams.DefaultSource,
		maxEvents:  streams.MaxBatchEvents,
		maxPayload: DefaultMaxPayload,
		window:     streams.DefaultDuplicateWindow,
		sequences:  map[aggregateKey][]uint64{},
		ids:        map[string]storedID{},
	}
	for _, o := range opts {
		o(s)
	}
	switch {
	case s.now == nil:
		panic("jetflowtest: NewEventStore: WithClock(nil)")
	case s.maxEvents < 1 || s.maxEvents > streams.MaxBatchEvents:
		panic(fmt.Sprintf("jetflowtest: NewEventStore: max events per append %d: must be 1 to %d", s.maxEvents, streams.MaxBatchEvents))
	case s.maxPayload < 1:
		panic(fmt.Sprintf("jetflowtest: NewEventStore: max payload %d: must be positive", s.maxPayload))
	case s.window <= 0:
		panic(fmt.Sprintf("jetflowtest: NewEventStore: duplicate window %s: must be positive", s.window))
	}
	return s
}

// FailNextAppend makes the next Append that reaches the store (one not
// refused before, for invalid arguments or a done ctx) store nothing and
// return err, as when the server refuses it or the connection is closed.
// An err matching streams.ErrOutcomeUnknown is returned as a
// *streams.OutcomeUnknownError naming the append's events, ids filled in,
// with err as its Cause, as streams.Store reports an append it cannot
// confirm: appending its Events again at the same position settles it.
//
// Each call of FailNextAppend or LoseNextAck fails one coming append, of
// any aggregate, in the order of the calls. It panics on a nil err.
func (s *EventStore) FailNextAppend(err error) {
	if err == nil {
		panic("jetflowtest: FailNextAppend(nil): name the error the append returns")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, appendFault{err: err})
}

// LoseNextAck makes the next Append that reaches the store do what it
// would (store its events, or find a conflict) and then return a
// *streams.OutcomeUnknownError instead of its answer, as when the
// server's ack does not arrive in time. Its Cause matches
// context.DeadlineExceeded. Appending its Events again at the same
// position settles it, as on a server: the stored result if they were
// stored, the conflict if they were not. aggregates.Repository does so by
// itself.
func (s *EventStore) LoseNextAck() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, appendFault{lostAck: true})
}

// errAckLost is the Cause of an append whose ack LoseNextAck dropped.
var errAckLost = fmt.Errorf("jetflowtest: no ack (LoseNextAck): %w", context.DeadlineExceeded)

// Append stores events for one aggregate after position after, as
// streams.Store.Append does (see EventStore).
func (s *EventStore) Append(ctx context.Context, aggregateType, aggregateID string, after streams.Position, events ...streams.Event) (streams.AppendResult, error) {
	if err := streams.ValidateAggregateType(aggregateType); err != nil {
		return streams.AppendResult{}, err
	}
	if err := streams.ValidateAggregateID(aggregateID); err != nil {
		return streams.AppendResult{}, err
	}
	switch {
	case len(events) == 0:
		return streams.AppendResult{}, streams.ErrNoEvents
	case len(events) > s.maxEvents:
		return streams.AppendResult{}, fmt.Errorf("%w: %d events, at most %d allowed", streams.ErrTooManyEvents, len(events), s.maxEvents)
	}
	if after.Sequence == 0 && after.Version != 0 {
		return streams.AppendResult{}, fmt.Errorf("%w: version %d without a sequence; a new aggregate is at sequence 0 and version 0", streams.ErrInvalidPosition, after.Version)
	}
	key := aggregateKey{aggregateType, aggregateID}
	if after.Sequence > 0 && after.Version == 0 {
		v, err := s.versionAt(ctx, key, after.Sequence)
		if err != nil {
			return streams.AppendResult{}, err
		}
		after.Version = v
	}
	prepared, err := s.prepare(key, after, events)
	if err != nil {
		return streams.AppendResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return streams.AppendResult{}, fmt.Errorf("streams: append to %s %s: nothing sent: %w", aggregateType, aggregateID, err)
	}
	unknown := func(cause error) error {
		return &streams.OutcomeUnknownError{AggregateType: aggregateType, AggregateID: aggregateID, After: after, Events: prepared, Cause: cause}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var fault appendFault
	if len(s.faults) > 0 {
		fault = s.faults[0]
		s.faults = s.faults[1:]
	}
	switch {
	case fault.err != nil && errors.Is(fault.err, streams.ErrOutcomeUnknown):
		return streams.AppendResult{}, unknown(fault.err)
	case fault.err != nil:
		return streams.AppendResult{}, fault.err
	}
	// The result's events are a copy: an OutcomeUnknownError names the
	// events as they were sent, without sequences.
	res, err := s.commitLocked(key, after, append([]streams.Event(nil), prepared...))
	if fault.lostAck {
		return streams.AppendResult{}, unknown(errAckLost)
	}
	return res, err
}

// commitLocked checks the append against what is stored and stores it as
// one commit, in the order a standalone server checks a message: the
// expected sequence first, the duplicate window (of the commit's id, its
// first event's) second.
func (s *EventStore) commitLocked(key aggregateKey, after streams.Position, events []streams.Event) (streams.AppendResult, error) {
	seqs := s.sequences[key]
	var last uint64
	if len(seqs) > 0 {
		last = seqs[len(seqs)-1]
	}
	now := time.Now()
	if last != after.Sequence {
		return s.conflictLocked(key, after, events, last)
	}
	if dup, ok := s.duplicateLocked(events[0].ID, now); ok {
		return s.duplicateFoundLocked(key, after, events, dup)
	}
	seq := uint64(len(s.commits)) + 1
	kept := make([]streams.Event, len(events))
	for i := range events {
		events[i].Sequence = seq
		kept[i] = events[i]
		kept[i].Data = bytes.Clone(kept[i].Data)
		kept[i].OccurredAt = kept[i].OccurredAt.UTC()
	}
	s.commits = append(s.commits, kept)
	s.sequences[key] = append(s.sequences[key], seq)
	s.ids[events[0].ID] = storedID{sequence: seq, at: now}
	return result(events), nil
}

// duplicateLocked returns the sequence of the commit whose id is id when
// it is stored within the duplicate window.
func (s *EventStore) duplicateLocked(id string, now time.Time) (uint64, bool) {
	d, ok := s.ids[id]
	if !ok || now.Sub(d.at) >= s.window {
		return 0, false
	}
	return d.sequence, true
}

// conflictLocked answers an append whose position is not the aggregate's
// last commit: its own earlier attempt, or a conflict.
func (s *EventStore) conflictLocked(key aggregateKey, after streams.Position, events []streams.Event, last uint64) (streams.AppendResult, error) {
	if ours, ok := s.storedAfterLocked(key, after.Sequence, events); ok {
		return ours, nil
	}
	return streams.AppendResult{}, &streams.ConflictError{
		AggregateType: key.typ, AggregateID: key.id,
		ExpectedSequence: after.Sequence, ActualSequence: last, Known: true,
	}
}

// duplicateFoundLocked answers an append whose commit id is already
// stored, at sequence seq: its own earlier attempt, or a duplicate.
func (s *EventStore) duplicateFoundLocked(key aggregateKey, after streams.Position, events []streams.Event, seq uint64) (streams.AppendResult, error) {
	if ours, ok := s.storedAfterLocked(key, after.Sequence, events); ok {
		return ours, nil
	}
	de := &streams.DuplicateEventError{AggregateType: key.typ, AggregateID: key.id, Sequence: seq, EventID: events[0].ID}
	if stored := s.commits[seq-1]; stored[0].AggregateType == key.typ && stored[0].AggregateID == key.id {
		de.Version = stored[0].Version
	}
	return streams.AppendResult{}, de
}

// storedAfterLocked returns the stored result when the aggregate's commit
// right after sequence seq holds these events (the same ids, in order).
func (s *EventStore) storedAfterLocked(key aggregateKey, seq uint64, events []streams.Event) (streams.AppendResult, bool) {
	seqs := s.sequences[key]
	i := sort.Search(len(seqs), func(i int) bool { return seqs[i] > seq })
	if i == len(seqs) {
		return streams.AppendResult{}, false
	}
	stored := s.commits[seqs[i]-1]
	if len(stored) != len(events) {
		return streams.AppendResult{}, false
	}
	found := make([]streams.Event, len(events))
	for j, ev := range events {
		if stored[j].ID != ev.ID {
			return streams.AppendResult{}, false
		}
		found[j] = stored[j]
		found[j].Data = bytes.Clone(stored[j].Data)
	}
	return result(found), true
}

func result(events []streams.Event) streams.AppendResult {
	last := events[len(events)-1]
	return streams.AppendResult{
		FirstSequence: events[0].Sequence,
		LastSequence:  last.Sequence,
		Version:       last.Version,
		Events:        events,
	}
}

// versionAt reads the version the aggregate is at after its commit at
// sequence seq; a sequence that is not one of the aggregate's commits is a
// conflict, as streams.Store answers it.
func (s *EventStore) versionAt(ctx context.Context, key aggregateKey, seq uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("jetflowtest: read the version of %s %s at sequence %d: %w", key.typ, key.id, seq, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seqs := s.sequences[key]
	if i, ok := sort.Find(len(seqs), func(i int) int { return cmp.Compare(seq, seqs[i]) }); ok {
		c := s.commits[seqs[i]-1]
		return c[len(c)-1].Version, nil
	}
	return 0, &streams.ConflictError{AggregateType: key.typ, AggregateID: key.id, ExpectedSequence: seq}
}

// prepare fills in the events and refuses them as streams.Store does,
// with its very code.
func (s *EventStore) prepare(key aggregateKey, after streams.Position, events []streams.Event) ([]streams.Event, error) {
	return streams.PrepareAppend(streams.AppendDefaults{Now: s.now(), Source: s.source, MaxPayload: s.maxPayload},
		key.typ, key.id, after, events)
}

// Load yields the aggregate's events stored after stream sequence after,
// in order, upcast when WithUpcasters is set, as streams.Store.Load does.
// Commits appended while it runs are yielded too when they come after the
// last one yielded. A ctx that ends stops it with ctx's error.
func (s *EventStore) Load(ctx context.Context, aggregateType, aggregateID string, after uint64) iter.Seq2[streams.Event, error] {
	if err := errors.Join(streams.ValidateAggregateType(aggregateType), streams.ValidateAggregateID(aggregateID)); err != nil {
		return func(yield func(streams.Event, error) bool) { yield(streams.Event{}, err) }
	}
	key := aggregateKey{aggregateType, aggregateID}
	return s.upcast(func(yield func(streams.Event, error) bool) {
		for last := after; last < math.MaxUint64; {
			if err := ctx.Err(); err != nil {
				yield(streams.Event{}, fmt.Errorf("jetflowtest: load %s %s after sequence %d: %w", aggregateType, aggregateID, last, err))
				return
			}
			evs, ok := s.nextOf(key, last)
			if !ok {
				return
			}
			for _, ev := range evs {
				if !yield(ev, nil) {
					return
				}
			}
			last = evs[0].Sequence
		}
	})
}

// nextOf returns a copy of the aggregate's first commit after sequence seq.
func (s *EventStore) nextOf(key aggregateKey, seq uint64) ([]streams.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seqs := s.sequences[key]
	i := sort.Search(len(seqs), func(i int) bool { return seqs[i] > seq })
	if i == len(seqs) {
		return nil, false
	}
	return s.copyAtLocked(seqs[i]), true
}

func (s *EventStore) copyAtLocked(seq uint64) []streams.Event {
	evs := slices.Clone(s.commits[seq-1])
	for i := range evs {
		evs[i].Data = bytes.Clone(evs[i].Data)
	}
	return evs
}

// ReadAll yields every event from stream sequence from on in stream order,
// only those of aggregateType when it is not empty, upcast when
// WithUpcasters is set, as streams.Store.ReadAll does. Tests use it to see
// everything a command wrote.
func (s *EventStore) ReadAll(ctx context.Context, from uint64, aggregateType string) iter.Seq2[streams.Event, error] {
	if aggregateType != "" {
		if err := streams.ValidateAggregateType(aggregateType); err != nil {
			return func(yield func(streams.Event, error) bool) { yield(streams.Event{}, err) }
		}
	}
	return s.upcast(func(yield func(streams.Event, error) bool) {
		for seq := max(from, 1); ; seq++ {
			if err := ctx.Err(); err != nil {
				yield(streams.Event{}, fmt.Errorf("jetflowtest: read all from sequence %d: %w", seq, err))
				return
			}
			evs, ok := s.at(seq)
			if !ok {
				return
			}
			if aggregateType != "" && evs[0].AggregateType != aggregateType {
				continue
			}
			for _, ev := range evs {
				if !yield(ev, nil) {
					return
				}
			}
		}
	})
}

// at returns a copy of the commit at stream sequence seq.
func (s *EventStore) at(seq uint64) ([]streams.Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq > uint64(len(s.commits)) {
		return nil, false
	}
	return s.copyAtLocked(seq), true
}

func (s *EventStore) upcast(events iter.Seq2[streams.Event, error]) iter.Seq2[streams.Event, error] {
	if s.upcasters == nil {
		return events
	}
	return func(yield func(streams.Event, error) bool) {
		for ev, err := range events {
			if err == nil {
				err = s.upcasters.Apply(&ev)
			}
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}
