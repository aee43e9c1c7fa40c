package consumers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// Outgoing is a message to publish on a topic. Only Data is required.
type Outgoing struct {
	// Key is an optional subject suffix after the priority token
	// (topic.<name>.<priority>.<key>), e.g. "order.created"; subscriptions
	// filter on it server-side. No wildcards or whitespace; "" is sent as
	// the NoKey token.
	Key  string
	Data []byte
	// Priority defaults to normal.
	Priority Priority
	// TTL, when set (at least 1s), expires the message: the server removes
	// it and no handler ever sees it after TTL, even before the removal.
	TTL time.Duration
	// MsgID, when set, deduplicates: a second publish with the same id within
	// the topic's duplicate window is acknowledged but not stored again.
	MsgID         string
	CorrelationID string
	CausationID   string
	UserID        string
	// TraceParent is a W3C traceparent, carried through untouched.
	TraceParent string
	// Header holds extra headers; the fields above take precedence.
	Header nats.Header
}

// AsyncPublisher is the part of jetstream.JetStream a Publisher uses.
type AsyncPublisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
	PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
	PublishAsyncComplete() <-chan struct{}
}

// Publisher publishes to topics. It is safe for concurrent use. Its async
// calls are bounded by the JetStream context's in-flight limit
// (jetstream.WithPublishAsyncMaxPending, default 4000): at the limit
// PublishAsync waits for acks instead of failing.
type Publisher struct {
	js  AsyncPublisher
	now func() time.Time
}

// PublisherOption configures a Publisher.
type PublisherOption func(*Publisher)

// WithPublisherClock sets the clock that stamps TTL expiries (tests).
func WithPublisherClock(now func() time.Time) PublisherOption {
	return func(p *Publisher) { p.now = now }
}

// NewPublisher returns a publisher on js.
func NewPublisher(js AsyncPublisher, opts ...PublisherOption) *Publisher {
	p := &Publisher{js: js, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Publish publishes one message and waits for the server's ack.
func (p *Publisher) Publish(ctx context.Context, topic string, out Outgoing) (*jetstream.PubAck, error) {
	m, err := p.build(topic, withTrace(ctx, out))
	if err != nil {
		return nil, err
	}
	ack, err := p.js.PublishMsg(ctx, m)
	if err != nil {
		return nil, publishError(topic, err)
	}
	return ack, nil
}

// PublishAsync publishes one message without waiting for its ack and returns
// the ack's future. When the in-flight limit is reached it waits (until ctx
// ends) rather than failing. The future says whether it was stored (an
// async publish can still fail); Flush only waits, and PublishBatch waits
// and reports each failure.
func (p *Publisher) PublishAsync(ctx context.Context, topic string, out Outgoing) (jetstream.PubAckFuture, error) {
	m, err := p.build(topic, withTrace(ctx, out))
	if err != nil {
		return nil, err
	}
	f, err := streams.PublishAsync(ctx, p.js, m)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, fmt.Errorf("consumers: publish to %s: %w", topic, err)
		}
		return nil, publishError(topic, err)
	}
	return f, nil
}

// withTrace fills the trace context from ctx (a handler's, for messages a
// handler publishes) unless the caller set one.
func withTrace(ctx context.Context, out Outgoing) Outgoing {
	if out.TraceParent == "" {
		out.TraceParent = wire.TraceParent(ctx)
	}
	return out
}

// Flush waits until every async publish of the underlying JetStream context
// has been acknowledged or has failed; it does not say which: a nil error
// is no proof of delivery (the futures and PublishBatch are).
func (p *Publisher) Flush(ctx context.Context) error {
	select {
	case <-p.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PublishBatch publishes msgs pipelined (async, bounded in flight) and waits
// for every ack. It returns the acks in order; on failure the error joins
// every failed message's error with its index, and acks of failed messages
// are nil.
func (p *Publisher) PublishBatch(ctx context.Context, topic string, msgs []Outgoing) ([]*jetstream.PubAck, error) {
	futures := make([]jetstream.PubAckFuture, len(msgs))
	acks := make([]*jetstream.PubAck, len(msgs))
	var errs []error
	for i, out := range msgs {
		f, err := p.PublishAsync(ctx, topic, out)
		if err != nil {
			errs = append(errs, fmt.Errorf("message %d: %w", i, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			acks[i] = ack
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("message %d: %w", i, publishError(topic, err)))
		case <-ctx.Done():
			return acks, errors.Join(append(errs, ctx.Err())...)
		}
	}
	return acks, errors.Join(errs...)
}

// build validates out and turns it into the wire message.
func (p *Publisher) build(topic string, out Outgoing) (*nats.Msg, error) {
	if err := ValidateTopicName(topic); err != nil {
		return nil, err
	}
	if err := ValidateKey(out.Key); err != nil {
		return nil, err
	}
	if !out.Priority.Valid() {
		return nil, fmt.Errorf("%w %d", ErrInvalidPriority, int8(out.Priority))
	}
	if out.TTL != 0 && out.TTL < time.Second {
		return nil, fmt.Errorf("%w %s: at least 1s (the server counts TTLs in whole seconds)", ErrInvalidTTL, out.TTL)
	}
	if out.TraceParent != "" && !wire.ValidTraceParent(out.TraceParent) {
		return nil, fmt.Errorf("%w %q: want 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", ErrInvalidTraceParent, out.TraceParent)
	}
	m := &nats.Msg{Subject: topicSubject(topic, out.Priority, out.Key), Data: out.Data}
	// A message without metadata carries no header at all: the cheapest
	// wire form, and the common case on the hot path.
	if len(out.Header) == 0 && out.TTL == 0 && out.MsgID == "" && out.CorrelationID == "" &&
		out.CausationID == "" && out.UserID == "" && out.TraceParent == "" {
		return m, nil
	}
	h := make(nats.Header, len(out.Header)+2)
	for k, v := range out.Header {
		h[k] = v
	}
	setHeader(h, wire.HeaderMsgID, out.MsgID)
	setHeader(h, wire.HeaderCorrelationID, out.CorrelationID)
	setHeader(h, wire.HeaderCausationID, out.CausationID)
	setHeader(h, wire.HeaderUserID, out.UserID)
	setHeader(h, wire.HeaderTraceParent, out.TraceParent)
	if out.TTL > 0 {
		// The server's TTL is whole seconds; round up so it never removes a
		// message before the exact expiry the worker enforces.
		secs := int64((out.TTL + time.Second - 1) / time.Second)
		h[wire.HeaderTTL] = []string{strconv.FormatInt(secs, 10) + "s"}
		h[wire.HeaderExpiresAt] = []string{p.now().Add(out.TTL).UTC().Format(expiresAtLayout)}
	}
	m.Header = h
	return m, nil
}

func setHeader(h nats.Header, k, v string) {
	if v != "" {
		h[k] = []string{v}
	}
}

func publishError(topic string, err error) error {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return fmt.Errorf("%w: %s (stream %s): %w", ErrTopicNotFound, topic, TopicStream(topic), err)
	}
	return fmt.Errorf("consumers: publish to %s: %w", topic, err)
}
