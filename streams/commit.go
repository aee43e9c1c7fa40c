package streams

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// A commit is everything one Append stores: one JetStream message on the
// aggregate's subject whose body holds every event of the append. A commit
// is atomic by construction (one message is stored whole or not at all),
// costs one publish whatever its size, and needs no headers to be read: a
// load asks the server for bodies only, which is most of what a load of
// many events used to cost (docs/event-format.md gives the measurements).
//
// Body (format 1), every integer an unsigned varint unless said otherwise,
// every string and byte field a varint length and its bytes:
//
//	magic         0x00 'j' 'f' 0x01   (JSON cannot start with a NUL byte)
//	prev          the aggregate's sequence the commit was appended after
//	              (its expected last subject sequence, checked by the server)
//	first version the version of the commit's first event
//	aggregate type, aggregate id
//	count         the number of events, then for each event:
//	  id, type, schema, occurred-at (signed varint Unix seconds, then
//	  nanoseconds), correlation id, causation id, user id, source,
//	  traceparent, data (JSON)
//
// The stream sequence of a commit is the sequence of all its events, and
// the next commit of the same aggregate records it as its prev: reading an
// aggregate's commits in order, each one's sequence is the next one's prev,
// and the last one's is in the server's end-of-batch reply.
const commitMagic = "\x00jf\x01"

// minEventBytes is the smallest encoded event (one-byte id, type and data,
// and the rest empty): it bounds the count a body can claim.
const minEventBytes = 2 + 2 + 1 + 1 + 1 + 5 + 2

// commitHead is a commit's header fields.
type commitHead struct {
	prev, firstVersion uint64
	count              int
}

// EncodeCommit returns the body of the commit of events appended after
// stream sequence prev, as Append writes it: events as PrepareAppend
// returns them (one aggregate, consecutive versions, ids and defaults set).
// Tools that write the event stream without a Store (a migration, a
// benchmark's raw side) use it; DecodeEvents reads it back.
func EncodeCommit(prev uint64, events []Event) ([]byte, error) {
	if len(events) == 0 {
		return nil, ErrNoEvents
	}
	for i := range events {
		e, first := &events[i], &events[0]
		switch {
		case e.AggregateType != first.AggregateType || e.AggregateID != first.AggregateID:
			return nil, fmt.Errorf("%w: event %d is of %s %s, event 0 of %s %s", ErrInvalidEvent, i, e.AggregateType, e.AggregateID, first.AggregateType, first.AggregateID)
		case e.Version != first.Version+uint64(i) || first.Version == 0:
			return nil, fmt.Errorf("%w: event %d has version %d, want %d (versions from 1, consecutive)", ErrInvalidEvent, i, e.Version, first.Version+uint64(i))
		case e.ID == "" || e.Type == "" || e.Schema < 1:
			return nil, fmt.Errorf("%w: event %d has no id, type or schema: prepare the events with PrepareAppend", ErrInvalidEvent, i)
		}
	}
	return encodeCommit(prev, events), nil
}

// encodeCommit writes the commit of events (prepared: versions, ids and
// defaults set) appended after prev.
func encodeCommit(prev uint64, events []Event) []byte {
	size := len(commitMagic) + 3*binary.MaxVarintLen64 + len(events[0].AggregateType) + len(events[0].AggregateID) + 2*binary.MaxVarintLen64
	for i := range events {
		size += events[i].encodedSize()
	}
	b := make([]byte, 0, size)
	b = append(b, commitMagic...)
	b = binary.AppendUvarint(b, prev)
	b = binary.AppendUvarint(b, events[0].Version)
	b = appendString(b, events[0].AggregateType)
	b = appendString(b, events[0].AggregateID)
	b = binary.AppendUvarint(b, uint64(len(events)))
	for i := range events {
		e := &events[i]
		b = appendString(b, e.ID)
		b = appendString(b, e.Type)
		b = binary.AppendUvarint(b, uint64(e.Schema))
		at := e.OccurredAt.UTC()
		b = binary.AppendVarint(b, at.Unix())
		b = binary.AppendUvarint(b, uint64(at.Nanosecond()))
		b = appendString(b, e.Metadata.CorrelationID)
		b = appendString(b, e.Metadata.CausationID)
		b = appendString(b, e.Metadata.UserID)
		b = appendString(b, e.Metadata.Source)
		b = appendString(b, e.Metadata.TraceParent)
		b = binary.AppendUvarint(b, uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b
}

// commitBodyOverhead bounds a commit body's bytes besides its events: the
// magic, prev, first version, count and the aggregate's type and id.
func commitBodyOverhead(aggregateType, aggregateID string) int {
	return len(commitMagic) + 5*binary.MaxVarintLen64 + len(aggregateType) + len(aggregateID)
}

// encodedSize bounds the bytes the event takes in a commit.
func (e *Event) encodedSize() int {
	return 11*binary.MaxVarintLen64 + len(e.ID) + len(e.Type) + len(e.Metadata.CorrelationID) + len(e.Metadata.CausationID) +
		len(e.Metadata.UserID) + len(e.Metadata.Source) + len(e.Metadata.TraceParent) + len(e.Data)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// isCommit reports whether data is a commit's body (as opposed to one
// event of the format before commits: its data as JSON, its fields in
// headers).
func isCommit(data []byte) bool { return bytes.HasPrefix(data, []byte(commitMagic)) }

// DecodeEvents returns the events of a message stored on the event stream:
// a commit's events (data that starts with the commit magic) or the one
// event of a message written before commits (its fields in headers h).
// sequence is the message's stream sequence, every returned event's
// Sequence. It never panics on bad input, and names what is wrong.
func DecodeEvents(subject string, h nats.Header, data []byte, sequence uint64) ([]Event, error) {
	if !isCommit(data) {
		ev, err := decodeLegacy(subject, h, data, sequence)
		if err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	}
	_, events, err := decodeCommit(data, sequence)
	if err != nil {
		return nil, fmt.Errorf("%w (subject %q, sequence %d): %w", ErrMalformedEvent, subject, sequence, err)
	}
	if t, id := events[0].AggregateType, events[0].AggregateID; !strings.HasSuffix(subject, "."+t+"."+id) {
		return nil, fmt.Errorf("%w (subject %q, sequence %d): subject does not end in .%s.%s", ErrMalformedEvent, subject, sequence, t, id)
	}
	return events, nil
}

// commitReader reads a commit's fields in order, remembering the first
// problem.
type commitReader struct {
	b   []byte
	err error
	// last is the last string read per slot, reused when the next one
	// has the same bytes: a commit's events mostly share their metadata,
	// and often their type.
	last [6]string
}

func (r *commitReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *commitReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("%s: not a varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *commitReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("%s: not a varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *commitReader) bytes(what string) []byte {
	if r.err != nil {
		return nil
	}
	// Not r.uvarint(what + " length"): building the label on every
	// field was most of a load's allocations.
	n, size := binary.Uvarint(r.b)
	if size <= 0 {
		r.fail("%s length: not a varint", what)
		return nil
	}
	r.b = r.b[size:]
	if n > uint64(len(r.b)) {
		r.fail("%s: %d bytes, %d left", what, n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *commitReader) string(what string) string { return string(r.bytes(what)) }

// metadata reads one of the five metadata strings or the type, reusing
// the previous event's string when the bytes are the same.
func (r *commitReader) metadata(slot int, what string) string {
	b := r.bytes(what)
	if string(b) == r.last[slot] { // no allocation for the comparison
		return r.last[slot]
	}
	s := string(b)
	r.last[slot] = s
	return s
}

// decodeCommit decodes a commit's body; every event gets sequence.
func decodeCommit(data []byte, sequence uint64) (commitHead, []Event, error) {
	return decodeCommitInto(nil, data, sequence)
}

// decodeCommitInto decodes a commit's body into dst's backing array when
// it has room: a reader that yields events by value decodes every commit
// of a load into one slice instead of one per commit.
func decodeCommitInto(dst []Event, data []byte, sequence uint64) (commitHead, []Event, error) {
	r := &commitReader{b: data[len(commitMagic):]}
	var head commitHead
	head.prev = r.uvarint("prev")
	head.firstVersion = r.uvarint("first version")
	aggType := r.string("aggregate type")
	aggID := r.string("aggregate id")
	count := r.uvarint("event count")
	switch {
	case r.err != nil:
		return head, nil, r.err
	case head.firstVersion == 0:
		return head, nil, errors.New("first version 0 (versions start at 1)")
	case count == 0:
		return head, nil, errors.New("a commit of no event")
	case count > uint64(len(r.b)/minEventBytes)+1:
		return head, nil, fmt.Errorf("%d events in %d bytes", count, len(r.b))
	case head.firstVersion > math.MaxUint64-count:
		return head, nil, fmt.Errorf("versions from %d overflow", head.firstVersion)
	}
	if err := ValidateAggregateType(aggType); err != nil {
		return head, nil, fmt.Errorf("aggregate type: %w", err)
	}
	if err := validateStoredAggregateID(aggID); err != nil {
		return head, nil, fmt.Errorf("aggregate id: %w", err)
	}
	head.count = int(count)
	events := slices.Grow(dst[:0], head.count)[:head.count]
	for i := range events {
		e := &events[i]
		*e = Event{AggregateType: aggType, AggregateID: aggID, Sequence: sequence}
		e.Version = head.firstVersion + uint64(i)
		e.ID = r.string("id")
		e.Type = r.metadata(5, "type")
		schema := r.uvarint("schema")
		sec := r.varint("occurred-at")
		nsec := r.uvarint("occurred-at nanoseconds")
		e.Metadata.CorrelationID = r.metadata(0, "correlation id")
		e.Metadata.CausationID = r.metadata(1, "causation id")
		e.Metadata.UserID = r.metadata(2, "user id")
		e.Metadata.Source = r.metadata(3, "source")
		e.Metadata.TraceParent = r.metadata(4, "traceparent")
		data := r.bytes("data")
		if r.err != nil {
			return head, nil, fmt.Errorf("event %d: %w", i, r.err)
		}
		switch {
		case e.ID == "":
			return head, nil, fmt.Errorf("event %d: no id", i)
		case e.Type == "":
			return head, nil, fmt.Errorf("event %d: no type", i)
		case schema < 1 || schema > math.MaxInt32:
			return head, nil, fmt.Errorf("event %d (%s): schema %d is not a schema version (1, 2, ...)", i, truncate(e.Type), schema)
		case nsec > 999_999_999:
			return head, nil, fmt.Errorf("event %d (%s): occurred-at nanoseconds %d", i, truncate(e.Type), nsec)
		case !json.Valid(data):
			return head, nil, fmt.Errorf("event %d (%s): data is not valid JSON", i, truncate(e.Type))
		}
		e.Schema = int(schema)
		e.OccurredAt = time.Unix(sec, int64(nsec)).UTC()
		e.Data = json.RawMessage(data)
	}
	if len(r.b) != 0 {
		return head, nil, fmt.Errorf("%d bytes after the last event", len(r.b))
	}
	return head, events, nil
}

// readCommitHead reads a commit's header fields only.
func readCommitHead(data []byte) (commitHead, error) {
	r := &commitReader{b: data[len(commitMagic):]}
	var head commitHead
	head.prev = r.uvarint("prev")
	head.firstVersion = r.uvarint("first version")
	r.bytes("aggregate type")
	r.bytes("aggregate id")
	count := r.uvarint("event count")
	if r.err != nil {
		return head, r.err
	}
	if count == 0 || count > uint64(len(r.b)/minEventBytes)+1 {
		return head, fmt.Errorf("event count %d", count)
	}
	head.count = int(count)
	return head, nil
}

// lastVersion is the version of the commit's last event.
func (h commitHead) lastVersion() uint64 { return h.firstVersion + uint64(h.count) - 1 }
