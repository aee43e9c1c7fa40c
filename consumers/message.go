package consumers

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// Message is one delivery handed to a handler. It is valid until the handler
// returns; the worker acknowledges it according to the handler's result.
type Message struct {
	raw          jetstream.Msg
	subscription string
	topic        string // "" for stream (e.g. EVENTS) subscriptions

	metaOnce sync.Once
	meta     *jetstream.MsgMetadata
	metaErr  error

	// pinged is the watchdog tick at which the server last heard of this
	// message (its delivery, or a progress ack).
	pinged atomic.Uint64
}

func newMessage(raw jetstream.Msg, subscription, topic string) *Message {
	return &Message{raw: raw, subscription: subscription, topic: topic}
}

// Subject is the full subject, e.g. topic.orders.high.order.created or
// events.user.42.
func (m *Message) Subject() string { return m.raw.Subject() }

// Data is the payload.
func (m *Message) Data() []byte { return m.raw.Data() }

// Header is the message's headers (may be nil). Do not modify.
func (m *Message) Header() nats.Header { return m.raw.Headers() }

// Subscription is the name of the subscription that received the message.
func (m *Message) Subscription() string { return m.subscription }

// Topic is the topic the message was published on, or "" for a message of
// another stream (such as EVENTS).
func (m *Message) Topic() string { return m.topic }

// Priority is the priority token of a topic message; normal otherwise.
func (m *Message) Priority() Priority {
	p, _ := splitTopicSubject(m.topic, m.raw.Subject())
	return p
}

// Key is the subject suffix after the priority token of a topic message
// ("" when published without one); for other streams it is "".
func (m *Message) Key() string {
	_, k := splitTopicSubject(m.topic, m.raw.Subject())
	return k
}

// ID is the message id (Nats-Msg-Id), "" when the publisher set none.
func (m *Message) ID() string { return m.raw.Headers().Get(wire.HeaderMsgID) }

// CorrelationID is the Jetflow-Correlation-Id header.
func (m *Message) CorrelationID() string { return m.raw.Headers().Get(wire.HeaderCorrelationID) }

// CausationID is the Jetflow-Causation-Id header.
func (m *Message) CausationID() string { return m.raw.Headers().Get(wire.HeaderCausationID) }

// UserID is the Jetflow-User-Id header.
func (m *Message) UserID() string { return m.raw.Headers().Get(wire.HeaderUserID) }

// TraceParent is the W3C traceparent header.
func (m *Message) TraceParent() string { return m.raw.Headers().Get(wire.HeaderTraceParent) }

// Metadata is the JetStream delivery metadata (stream and consumer
// sequences, delivery count, pending count), parsed once on first use.
func (m *Message) Metadata() (*jetstream.MsgMetadata, error) {
	m.metaOnce.Do(func() { m.meta, m.metaErr = m.raw.Metadata() })
	return m.meta, m.metaErr
}

// Attempt is the delivery count: 1 on the first delivery, 2 on the first
// retry, and so on; 0 when the metadata cannot be read.
func (m *Message) Attempt() int {
	md, err := m.Metadata()
	if err != nil {
		return 0
	}
	return int(md.NumDelivered)
}

// InProgress tells the server the handler is still working, resetting the
// ack wait. The worker does this on its own for long handlers; call it for
// finer control.
func (m *Message) InProgress() error { return m.raw.InProgress() }

// Events decodes the message as a commit of the event store, for workers
// subscribed to its stream (Subscription.Stream): the events one append
// stored together, in order — one for most commands, several for a command
// that decided several (an order placed with its lines). The message is
// acknowledged as a whole, so a handler handles them all or fails. The
// error wraps streams.ErrMalformedEvent when the message is not a commit;
// a handler that returns it sends the message to the dead-letter queue
// after its retries.
func (m *Message) Events() ([]streams.Event, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("consumers: %s: %w", m.Subject(), err)
	}
	return streams.DecodeEvents(m.Subject(), m.Header(), m.Data(), md.Sequence.Stream)
}

// ErrSeveralEvents is Event's error for a commit of more than one event.
var ErrSeveralEvents = errors.New("consumers: the commit holds several events; use Message.Events")

// Event is Events for a message that holds one event. A commit of several
// events is an error matching ErrSeveralEvents: use Events wherever a
// command may decide more than one.
func (m *Message) Event() (streams.Event, error) {
	evs, err := m.Events()
	if err != nil {
		return streams.Event{}, err
	}
	if len(evs) != 1 {
		return streams.Event{}, fmt.Errorf("%w (%d events at sequence %d)", ErrSeveralEvents, len(evs), evs[0].Sequence)
	}
	return evs[0], nil
}

// splitTopicSubject splits topic.<topic>.<priority>.<key>.
func splitTopicSubject(topic, subject string) (Priority, string) {
	if topic == "" {
		return PriorityNormal, ""
	}
	rest, ok := strings.CutPrefix(subject, TopicSubjectPrefix+"."+topic+".")
	if !ok {
		return PriorityNormal, ""
	}
	tok, key, _ := strings.Cut(rest, ".")
	p, err := ParsePriority(tok)
	if err != nil {
		return PriorityNormal, ""
	}
	if key == NoKey {
		key = ""
	}
	return p, key
}
