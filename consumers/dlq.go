package consumers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
)

// DLQ defaults.
const (
	DefaultDLQStream    = "DLQ"
	DefaultDLQRetention = 30 * 24 * time.Hour
)

// DLQConfig defines the dead-letter stream. Zero fields take the defaults.
type DLQConfig struct {
	// Stream name (default DLQ).
	Stream string
	// Retention of dead letters (default 30 days).
	Retention time.Duration
	// Replicas of the stream (1 standalone, 3 in a cluster).
	Replicas int
	// MaxMsgs bounds the stream (0 = unlimited); the oldest go first.
	MaxMsgs int64
	// MemoryStorage keeps the stream in memory (tests).
	MemoryStorage bool
}

// DefaultDLQConfig is the wire contract's DLQ on one replica.
func DefaultDLQConfig() DLQConfig { return DLQConfig{}.withDefaults() }

func (c DLQConfig) withDefaults() DLQConfig {
	if c.Stream == "" {
		c.Stream = DefaultDLQStream
	}
	if c.Retention == 0 {
		c.Retention = DefaultDLQRetention
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	return c
}

// Validate reports every problem at once.
func (c DLQConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := streams.ValidateStreamName(c.Stream); err != nil {
		errs = append(errs, fmt.Errorf("dlq stream: %w", err))
	}
	if c.Retention < time.Second {
		errs = append(errs, fmt.Errorf("%w: dlq retention %s: must be at least 1s", ErrInvalidConfig, c.Retention))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("%w: dlq replicas %d: must be 1 to 5", ErrInvalidConfig, c.Replicas))
	}
	if c.MaxMsgs < 0 {
		errs = append(errs, fmt.Errorf("%w: dlq max msgs must not be negative", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// StreamConfig is the DLQ stream's definition: it captures the
// MAX_DELIVERIES and MSG_TERMINATED advisories of every consumer in the
// account. It must allow deletes, or discard could not remove one letter.
func (c DLQConfig) StreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	storage := jetstream.FileStorage
	if c.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name:        c.Stream,
		Description: "jetflow dead letters: consumer MAX_DELIVERIES and MSG_TERMINATED advisories",
		Subjects:    []string{AdvisoryMaxDeliveriesPrefix + ".>", AdvisoryTerminatedPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     storage,
		Replicas:    c.Replicas,
		MaxAge:      c.Retention,
		MaxMsgs:     c.MaxMsgs,
		Discard:     jetstream.DiscardOld,
	}
}

// EnsureDLQ creates the DLQ stream or brings it to its definition.
func EnsureDLQ(ctx context.Context, js streams.StreamManager, cfg DLQConfig) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return streams.EnsureStream(ctx, js, cfg.StreamConfig())
}

// ensureDLQExists creates the DLQ stream when it is missing and otherwise
// leaves it alone: a worker must not rewrite an operator's DLQ settings
// with its defaults.
func ensureDLQExists(ctx context.Context, js streams.StreamManager, cfg DLQConfig) error {
	cfg = cfg.withDefaults()
	_, err := js.Stream(ctx, cfg.Stream)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("consumers: look up dlq stream %s: %w", cfg.Stream, err)
	}
	_, err = EnsureDLQ(ctx, js, cfg)
	return err
}

// Original is the message a dead letter refers to, as its stream holds it.
type Original struct {
	Subject  string      `json:"subject"`
	Sequence uint64      `json:"sequence"`
	Header   nats.Header `json:"header,omitempty"`
	Data     []byte      `json:"data"`
	Time     time.Time   `json:"time"`
	// Events are the events of an event-store commit (a projection's or
	// an event worker's dead letter), decoded; nil for a topic message.
	Events []streams.Event `json:"events,omitempty"`
}

// DeadLetter is one entry of the DLQ.
type DeadLetter struct {
	// ID is the entry's sequence in the DLQ stream.
	ID   uint64       `json:"id"`
	Kind AdvisoryKind `json:"kind"`
	// Stream and Topic the message came from (Topic is "" outside topics).
	Stream string `json:"stream"`
	Topic  string `json:"topic,omitempty"`
	// Consumer and the Subscription it belongs to.
	Consumer     string `json:"consumer"`
	Subscription string `json:"subscription"`
	StreamSeq    uint64 `json:"stream_seq"`
	Deliveries   uint64 `json:"deliveries"`
	// Reason is the handler's error for a terminated message, or a
	// description of why the server gave up.
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
	// Original is the message, nil when its stream no longer holds it; then
	// OriginalMissing says why.
	Original        *Original `json:"original,omitempty"`
	OriginalMissing string    `json:"original_missing,omitempty"`
	// readErr is set when the original could not be read for a reason
	// that may pass (a timeout), as opposed to being gone.
	readErr error
}

// DLQJetStream is the part of jetstream.JetStream the DLQ uses.
type DLQJetStream interface {
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
	OrderedConsumer(ctx context.Context, stream string, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, error)
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// DLQ reads, replays and discards dead letters.
type DLQ struct {
	js  DLQJetStream
	cfg DLQConfig
}

// NewDLQ returns the dead-letter queue of cfg's stream.
func NewDLQ(js DLQJetStream, cfg DLQConfig) *DLQ {
	return &DLQ{js: js, cfg: cfg.withDefaults()}
}

// ListOptions select dead letters.
type ListOptions struct {
	// Topic keeps only dead letters of this topic.
	Topic string
	// Subscription keeps only dead letters of this subscription (its
	// durable name; for pubsub mode <name>_<instance>).
	Subscription string
	// Limit stops after this many (0 = all).
	Limit int
	// After starts after this dead-letter id: the next page of a list
	// that stopped at Limit starts after its last id.
	After uint64
}

func (d *DLQ) stream(ctx context.Context) (jetstream.Stream, error) {
	st, err := d.js.Stream(ctx, d.cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoDLQ, d.cfg.Stream)
	}
	if err != nil {
		return nil, fmt.Errorf("consumers: dlq stream %s: %w", d.cfg.Stream, err)
	}
	return st, nil
}

// listReaderTTL is how long the server keeps a List reader that was not
// deleted (its process died mid-read).
const listReaderTTL = 10 * time.Second

// List returns the dead letters matching q, oldest first, with their originals.
func (d *DLQ) List(ctx context.Context, q ListOptions) ([]DeadLetter, error) {
	if q.Topic != "" {
		if err := ValidateTopicName(q.Topic); err != nil {
			return nil, err
		}
	}
	st, err := d.stream(ctx)
	if err != nil {
		return nil, err
	}
	if st.CachedInfo().State.Msgs == 0 {
		return nil, nil
	}
	// The server drops the reader soon even if the delete below is lost.
	cfg := jetstream.OrderedConsumerConfig{InactiveThreshold: listReaderTTL}
	if q.After > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, q.After+1
	}
	if q.Topic != "" {
		ts := TopicStream(q.Topic)
		cfg.FilterSubjects = []string{
			AdvisoryMaxDeliveriesPrefix + "." + ts + ".*",
			AdvisoryTerminatedPrefix + "." + ts + ".*",
		}
	}
	cons, err := d.js.OrderedConsumer(ctx, d.cfg.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumers: read dlq: %w", err)
	}
	defer func() {
		// Polling List must not pile readers up on the server.
		if info := cons.CachedInfo(); info != nil {
			_ = st.DeleteConsumer(context.WithoutCancel(ctx), info.Name)
		}
	}()
	originals := newOriginalLoader(d.js)
	var out []DeadLetter
	for {
		batch, err := cons.FetchNoWait(256)
		if err != nil {
			return nil, fmt.Errorf("consumers: read dlq: %w", err)
		}
		n, last := 0, false
		for msg := range batch.Messages() {
			n++
			md, err := msg.Metadata()
			if err != nil {
				return nil, fmt.Errorf("consumers: read dlq: %w", err)
			}
			last = md.NumPending == 0
			dl, err := decodeDeadLetter(md.Sequence.Stream, msg.Subject(), msg.Data())
			if err != nil {
				continue // not ours to show: a foreign message on the DLQ's subjects
			}
			if q.Subscription != "" && dl.Subscription != q.Subscription {
				continue
			}
			originals.load(ctx, &dl)
			out = append(out, dl)
			if q.Limit > 0 && len(out) >= q.Limit {
				return out, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("consumers: read dlq: %w", err)
		}
		if n == 0 || last {
			return out, nil
		}
	}
}

// Get returns one dead letter with its original.
func (d *DLQ) Get(ctx context.Context, id uint64) (DeadLetter, error) {
	st, err := d.stream(ctx)
	if err != nil {
		return DeadLetter{}, err
	}
	raw, err := st.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("%w: %d", ErrDeadLetterNotFound, id)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("consumers: dead letter %d: %w", id, err)
	}
	dl, err := decodeDeadLetter(raw.Sequence, raw.Subject, raw.Data)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("consumers: dead letter %d: %w", id, err)
	}
	newOriginalLoader(d.js).load(ctx, &dl)
	return dl, nil
}

// Discard removes one dead letter for good.
func (d *DLQ) Discard(ctx context.Context, id uint64) error {
	st, err := d.stream(ctx)
	if err != nil {
		return err
	}
	if err := st.DeleteMsg(ctx, id); err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) || isNoMessageFound(err) {
			return fmt.Errorf("%w: %d", ErrDeadLetterNotFound, id)
		}
		return fmt.Errorf("consumers: discard dead letter %d: %w", id, err)
	}
	return nil
}

// isNoMessageFound matches the server's answer to deleting a sequence it
// does not hold. nats.go keeps only the text of that API error.
func isNoMessageFound(err error) bool {
	return errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) && strings.Contains(err.Error(), "no message found")
}

func decodeDeadLetter(id uint64, subject string, data []byte) (DeadLetter, error) {
	a, err := DecodeAdvisory(subject, data)
	if err != nil {
		return DeadLetter{}, err
	}
	return DeadLetter{
		ID:           id,
		Kind:         a.Kind,
		Stream:       a.Stream,
		Topic:        TopicOfStream(a.Stream),
		Consumer:     a.Consumer,
		Subscription: SubscriptionOf(a.Stream, a.Consumer),
		StreamSeq:    a.StreamSeq,
		Deliveries:   a.Deliveries,
		Reason:       a.Describe(),
		Time:         a.Time,
	}, nil
}

// originalLoader fetches originals, looking each source stream up once.
type originalLoader struct {
	js      DLQJetStream
	streams map[string]jetstream.Stream
}

func newOriginalLoader(js DLQJetStream) *originalLoader {
	return &originalLoader{js: js, streams: map[string]jetstream.Stream{}}
}

// load sets dl.Original, or dl.OriginalMissing saying why it cannot.
func (o *originalLoader) load(ctx context.Context, dl *DeadLetter) {
	st, ok := o.streams[dl.Stream]
	if !ok {
		var err error
		st, err = o.js.Stream(ctx, dl.Stream)
		if err != nil {
			st = nil
			if !errors.Is(err, jetstream.ErrStreamNotFound) {
				dl.OriginalMissing = fmt.Sprintf("could not look up stream %s: %v", dl.Stream, err)
				dl.readErr = err
				return
			}
		}
		o.streams[dl.Stream] = st
	}
	if st == nil {
		dl.OriginalMissing = fmt.Sprintf("stream %s no longer exists", dl.Stream)
		return
	}
	raw, err := st.GetMsg(ctx, dl.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		dl.OriginalMissing = fmt.Sprintf("stream %s no longer holds sequence %d (expired, removed by limits or deleted)", dl.Stream, dl.StreamSeq)
		return
	}
	if err != nil {
		dl.OriginalMissing = fmt.Sprintf("could not read %s sequence %d: %v", dl.Stream, dl.StreamSeq, err)
		dl.readErr = err
		return
	}
	dl.Original = &Original{Subject: raw.Subject, Sequence: raw.Sequence, Header: publishedHeaders(raw.Header), Data: raw.Data, Time: raw.Time}
	if evs, err := streams.DecodeEvents(raw.Subject, raw.Header, raw.Data, raw.Sequence); err == nil {
		dl.Original.Events = evs
	}
}

// directGetHeaders are added by a direct get (topics allow direct gets);
// they describe the read, not the message as published.
var directGetHeaders = []string{"Nats-Stream", "Nats-Sequence", "Nats-Subject", "Nats-Time-Stamp", "Nats-Last-Sequence", "Nats-Num-Pending"}

func publishedHeaders(h nats.Header) nats.Header {
	if len(h) == 0 {
		return nil
	}
	out := make(nats.Header, len(h))
	for k, v := range h {
		out[k] = v
	}
	for _, k := range directGetHeaders {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
