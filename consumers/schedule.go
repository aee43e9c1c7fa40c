package consumers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// Scheduled topic messages live in the topic's own stream, in two subject
// spaces next to the priorities (no subscription's filter selects them):
//
//	topic.<name>._schedule.<id>           the pending schedule of id
//	topic.<name>._cancel.<id>.<token>     the cancellation of one schedule of id
//
// A schedule is a message with nats-server's Nats-Schedule ("@at <time>")
// and Nats-Schedule-Target (the topic subject it is for); at its time the
// server stores a copy on the target, where subscriptions get it, and
// purges the schedule. docs/processes.md says what the server guarantees
// and what the worker adds so that a cancelled message is never handled.
const (
	// ScheduleToken is the subject token of pending schedules.
	ScheduleToken = "_schedule"
	// CancelToken is the subject token of cancellations.
	CancelToken = "_cancel"
)

// OutcomeCancelled: a scheduled message whose schedule was cancelled,
// delivered because the server fired it at the moment of the cancel; acked
// unhandled.
const OutcomeCancelled Outcome = "cancelled"

// Raw headers of nats-server's message scheduling (server/stream.go).
const (
	hdrSchedule       = "Nats-Schedule"
	hdrScheduleTarget = "Nats-Schedule-Target"
	hdrScheduleTTL    = "Nats-Schedule-TTL"
	hdrScheduler      = "Nats-Scheduler"
	hdrScheduleNext   = "Nats-Schedule-Next"
	// hdrExpectedSubjectSeq with hdrExpectedSubjectSeqOf makes a publish
	// conditional on the last sequence of another subject.
	hdrExpectedSubjectSeq   = "Nats-Expected-Last-Subject-Sequence"
	hdrExpectedSubjectSeqOf = "Nats-Expected-Last-Subject-Sequence-Subject"
	// errWrongLastSequence is the server's answer to a failed expectation.
	errWrongLastSequence = 10071
)

var (
	// ErrNotScheduled is returned by CancelScheduled and ScheduledMessage
	// for an id with no pending schedule: it was delivered already,
	// cancelled, or never scheduled.
	ErrNotScheduled = errors.New("consumers: no pending scheduled message")
	// ErrInvalidSchedule is returned for a schedule id that cannot be a
	// subject, or a negative delay.
	ErrInvalidSchedule = errors.New("consumers: invalid schedule")
)

// Scheduled is a message stored for delivery at a later time.
type Scheduled struct {
	Topic string
	// ID cancels it (CancelScheduled).
	ID string
	// At is when the server delivers it: the time asked for, rounded up
	// to the second.
	At       time.Time
	Priority Priority
	Key      string
	// Sequence is the schedule's sequence in the topic stream.
	Sequence uint64
	// Data and Header are what will be delivered (the listing fills them).
	Data   []byte
	Header nats.Header
}

// ScheduleSubject is the subject of the pending schedule of id on topic.
func ScheduleSubject(topic, id string) string {
	return TopicSubjectPrefix + "." + topic + "." + ScheduleToken + "." + id
}

// cancelSubject is the subject of the cancellation of one schedule of id.
func cancelSubject(topic, id, token string) string {
	return TopicSubjectPrefix + "." + topic + "." + CancelToken + "." + id + "." + token
}

// ValidateScheduleID checks a schedule id: dot-separated tokens without
// wildcards, whitespace or control characters, as a key.
func ValidateScheduleID(id string) error {
	if reason := subjectProblem(id, false); reason != "" {
		return fmt.Errorf("%w: id %q: %s", ErrInvalidSchedule, truncate(id), reason)
	}
	return nil
}

// PublishAt stores out for delivery on topic at time at (rounded up to the
// second; a time past is delivered at once) and returns the schedule. out
// is delivered as Publish would have published it then, with the headers
// Jetflow-Schedule-Id, Jetflow-Schedule-Token and Jetflow-Scheduled-At
// added; its TTL counts from at.
//
// out.MsgID, when set, is the schedule's id, else a new one is made. An id
// has at most one pending schedule: scheduling the same id again replaces
// it. The delivered message carries no Nats-Msg-Id (the server removes
// it); Message.ScheduleID says which schedule it came from.
//
// The topic's retention does not apply to the pending schedule (it is
// kept, with Nats-TTL never, until its time), but its MaxMsgs and MaxBytes
// do: a topic with such limits may drop a schedule before its time.
func (p *Publisher) PublishAt(ctx context.Context, topic string, at time.Time, out Outgoing) (Scheduled, error) {
	id := out.MsgID
	if id == "" {
		id = streams.NewEventID()
	}
	if err := ValidateScheduleID(id); err != nil {
		return Scheduled{}, err
	}
	if at.IsZero() {
		return Scheduled{}, fmt.Errorf("%w: no time given", ErrInvalidSchedule)
	}
	// The server's @at has whole seconds; rounding up never delivers early.
	if t := at.Truncate(time.Second); !t.Equal(at) {
		at = t.Add(time.Second)
	}
	at = at.UTC()
	ttl := out.TTL
	if ttl != 0 && ttl < time.Second {
		return Scheduled{}, fmt.Errorf("%w %s: at least 1s (the server counts TTLs in whole seconds)", ErrInvalidTTL, ttl)
	}
	// The schedule carries no Nats-Msg-Id (a second schedule of the id
	// replaces the first, it is not a duplicate) and its TTL is the
	// delivered message's, not its own.
	out.MsgID, out.TTL = "", 0
	m, err := p.build(topic, withTrace(ctx, out))
	if err != nil {
		return Scheduled{}, err
	}
	target := m.Subject
	m.Subject = ScheduleSubject(topic, id)
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	m.Header[hdrSchedule] = []string{"@at " + at.Format(time.RFC3339)}
	m.Header[hdrScheduleTarget] = []string{target}
	m.Header[wire.HeaderTTL] = []string{"never"}
	m.Header[wire.HeaderScheduleID] = []string{id}
	m.Header[wire.HeaderScheduleToken] = []string{streams.NewEventID()}
	m.Header[wire.HeaderScheduledAt] = []string{at.Format(time.RFC3339)}
	if ttl > 0 {
		secs := int64((ttl + time.Second - 1) / time.Second)
		m.Header[hdrScheduleTTL] = []string{strconv.FormatInt(secs, 10) + "s"}
		m.Header[wire.HeaderExpiresAt] = []string{at.Add(ttl).Format(expiresAtLayout)}
	}
	ack, err := p.js.PublishMsg(ctx, m)
	if err != nil {
		return Scheduled{}, publishError(topic, err)
	}
	return Scheduled{Topic: topic, ID: id, At: at, Priority: out.Priority, Key: out.Key, Sequence: ack.Sequence,
		Data: out.Data, Header: m.Header}, nil
}

// PublishAfter is PublishAt at the publisher's clock's now plus d.
func (p *Publisher) PublishAfter(ctx context.Context, topic string, d time.Duration, out Outgoing) (Scheduled, error) {
	if d < 0 {
		return Scheduled{}, fmt.Errorf("%w: delay %s is negative", ErrInvalidSchedule, d)
	}
	return p.PublishAt(ctx, topic, p.now().Add(d), out)
}

// ScheduleStore is the part of jetstream.JetStream that reads and cancels
// schedules.
type ScheduleStore interface {
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// CancelScheduled cancels the pending schedule of id on topic. It returns
// nil when the schedule was pending at the moment the cancellation was
// stored: then no worker ever hands the message to a handler, even one
// the server fired at that very moment. It returns ErrNotScheduled when
// there was none (it was delivered, or cancelled, or never scheduled).
func CancelScheduled(ctx context.Context, js ScheduleStore, topic, id string) error {
	if err := ValidateTopicName(topic); err != nil {
		return err
	}
	if err := ValidateScheduleID(id); err != nil {
		return err
	}
	st, err := topicStream(ctx, js, topic)
	if err != nil {
		return err
	}
	subject := ScheduleSubject(topic, id)
	last, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) || (err == nil && last.Header.Get(hdrSchedule) == "") {
		return fmt.Errorf("%w: %s on topic %s", ErrNotScheduled, id, topic)
	}
	if err != nil {
		return fmt.Errorf("consumers: read schedule %s of topic %s: %w", id, topic, err)
	}
	token := last.Header.Get(wire.HeaderScheduleToken)
	if token == "" || strings.ContainsAny(token, ".*> \t\r\n") {
		return fmt.Errorf("%w: %s on topic %s is not a jetflow schedule (no usable %s)", ErrNotScheduled, id, topic, wire.HeaderScheduleToken)
	}
	// One message decides: stored only if the schedule is still the last
	// message of its subject (it is purged when it fires), and then it
	// purges the schedule. It stays, on a subject of its own, so that a
	// worker can tell a message fired at the same moment was cancelled.
	m := nats.NewMsg(cancelSubject(topic, id, token))
	m.Header.Set(hdrScheduleNext, "purge")
	m.Header.Set(hdrScheduler, subject)
	m.Header.Set(hdrExpectedSubjectSeq, strconv.FormatUint(last.Sequence, 10))
	m.Header.Set(hdrExpectedSubjectSeqOf, subject)
	m.Header.Set(wire.HeaderScheduleID, id)
	m.Header.Set(wire.HeaderScheduleToken, token)
	if _, err := js.PublishMsg(ctx, m); err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == errWrongLastSequence {
			return fmt.Errorf("%w: %s on topic %s (delivered or cancelled meanwhile)", ErrNotScheduled, id, topic)
		}
		return fmt.Errorf("consumers: cancel %s on topic %s: %w", id, topic, err)
	}
	return nil
}

// ScheduledMessage returns the pending schedule of id on topic, or
// ErrNotScheduled.
func ScheduledMessage(ctx context.Context, js StreamGetter, topic, id string) (Scheduled, error) {
	if err := ValidateTopicName(topic); err != nil {
		return Scheduled{}, err
	}
	if err := ValidateScheduleID(id); err != nil {
		return Scheduled{}, err
	}
	st, err := topicStream(ctx, js, topic)
	if err != nil {
		return Scheduled{}, err
	}
	raw, err := st.GetLastMsgForSubject(ctx, ScheduleSubject(topic, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Scheduled{}, fmt.Errorf("%w: %s on topic %s", ErrNotScheduled, id, topic)
	}
	if err != nil {
		return Scheduled{}, fmt.Errorf("consumers: read schedule %s of topic %s: %w", id, topic, err)
	}
	s, ok := scheduledOf(topic, raw.Subject, raw.Sequence, raw.Header, raw.Data)
	if !ok {
		return Scheduled{}, fmt.Errorf("%w: %s on topic %s", ErrNotScheduled, id, topic)
	}
	return s, nil
}

// StreamGetter is the part of jetstream.JetStream that looks streams up.
type StreamGetter interface {
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
}

// ListScheduled returns the pending schedules of topic, soonest first.
func ListScheduled(ctx context.Context, js StreamGetter, topic string) ([]Scheduled, error) {
	if err := ValidateTopicName(topic); err != nil {
		return nil, err
	}
	st, err := topicStream(ctx, js, topic)
	if err != nil {
		return nil, err
	}
	filter := TopicSubjectPrefix + "." + topic + "." + ScheduleToken + ".>"
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("consumers: schedules of topic %s: %w", topic, err)
	}
	want := 0
	for _, n := range info.State.Subjects {
		want += int(n)
	}
	var out []Scheduled
	if want > 0 {
		cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, InactiveThreshold: readerIdle})
		if err != nil {
			return nil, fmt.Errorf("consumers: schedules of topic %s: %w", topic, err)
		}
		defer deleteReader(st, cons)
		for seen := 0; seen < want; {
			batch, err := cons.Fetch(min(want-seen, 500), jetstream.FetchMaxWait(2*time.Second))
			if err != nil {
				return nil, fmt.Errorf("consumers: schedules of topic %s: %w", topic, err)
			}
			got := 0
			for m := range batch.Messages() {
				got++
				md, err := m.Metadata()
				if err != nil {
					continue
				}
				if s, ok := scheduledOf(topic, m.Subject(), md.Sequence.Stream, m.Headers(), m.Data()); ok {
					out = append(out, s)
				}
				// A schedule that fired while we read is counted and gone.
				if md.NumPending == 0 {
					seen = want
				}
			}
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
				return nil, fmt.Errorf("consumers: schedules of topic %s: %w", topic, err)
			}
			if got == 0 {
				break // fired meanwhile: nothing more to read
			}
			seen += got
		}
	}
	slices.SortFunc(out, func(a, b Scheduled) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// scheduledOf reads a stored schedule message; false for anything else.
func scheduledOf(topic, subject string, seq uint64, h nats.Header, data []byte) (Scheduled, bool) {
	pattern := h.Get(hdrSchedule)
	atText, ok := strings.CutPrefix(pattern, "@at ")
	if !ok {
		return Scheduled{}, false
	}
	at, err := time.Parse(time.RFC3339, atText)
	if err != nil {
		return Scheduled{}, false
	}
	id, ok := strings.CutPrefix(subject, TopicSubjectPrefix+"."+topic+"."+ScheduleToken+".")
	if !ok || id == "" {
		return Scheduled{}, false
	}
	p, key := splitTopicSubject(topic, h.Get(hdrScheduleTarget))
	return Scheduled{Topic: topic, ID: id, At: at.UTC(), Priority: p, Key: key, Sequence: seq, Data: data, Header: h}, true
}

func topicStream(ctx context.Context, js StreamGetter, topic string) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, TopicStream(topic))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: %s (stream %s)", ErrTopicNotFound, topic, TopicStream(topic))
	}
	if err != nil {
		return nil, fmt.Errorf("consumers: topic %s: %w", topic, err)
	}
	return st, nil
}

// ScheduleID is the id of the schedule a message was delivered from
// (Jetflow-Schedule-Id), "" for a message published at once.
func (m *Message) ScheduleID() string {
	if m.raw.Headers().Get(hdrScheduler) == "" {
		return ""
	}
	return m.raw.Headers().Get(wire.HeaderScheduleID)
}

// cancelledSchedule reports whether m was fired from a schedule that was
// cancelled: the server may fire a schedule in the instant a cancellation
// is stored (it takes the schedule out of its timer before it stores the
// copy, and does not look again), so the worker looks for the
// cancellation of that very schedule (its token).
func (w *Worker) cancelledSchedule(m *Message) (bool, error) {
	h := m.raw.Headers()
	token, id := h.Get(wire.HeaderScheduleToken), h.Get(wire.HeaderScheduleID)
	if m.topic == "" || token == "" || id == "" || h.Get(hdrScheduler) == "" {
		return false, nil
	}
	st, err := w.topicStream()
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	_, err = st.GetLastMsgForSubject(ctx, cancelSubject(m.topic, id, token))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	}
	return false, fmt.Errorf("consumers: look for the cancellation of schedule %s: %w", id, err)
}

// topicStream is the handle of the worker's topic stream, looked up once.
func (w *Worker) topicStream() (jetstream.Stream, error) {
	w.schedMu.Lock()
	defer w.schedMu.Unlock()
	if w.schedStream != nil {
		return w.schedStream, nil
	}
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
	defer cancel()
	st, err := w.js.Stream(ctx, w.sub.StreamName())
	if err != nil {
		return nil, fmt.Errorf("consumers: stream %s: %w", w.sub.StreamName(), err)
	}
	w.schedStream = st
	return st, nil
}

// readerIdle is how long the server keeps a listing's reader after its
// last fetch, should deleting it fail.
const readerIdle = 10 * time.Second

// deleteReader deletes the ephemeral consumer a listing read through, so
// that listings leave nothing behind on the stream.
func deleteReader(st jetstream.Stream, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = st.DeleteConsumer(ctx, info.Name) // on failure, readerIdle removes it
}
