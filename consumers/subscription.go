package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
)

// Mode says how workers running the same subscription share messages.
type Mode string

const (
	// ModeQueue (point-to-point, the default): one durable consumer named
	// after the subscription; every worker running it shares it and each
	// message is handled by one of them.
	ModeQueue Mode = "queue"
	// ModePubSub: each instance of the subscription gets its own durable
	// consumer (<name>_<instance>) and so every message. Differently named
	// subscriptions always each get every message, in either mode.
	ModePubSub Mode = "pubsub"
)

// StartPolicy says where a new subscription starts reading.
type StartPolicy string

const (
	// StartAll delivers everything the stream still holds (the default).
	StartAll StartPolicy = "all"
	// StartNew delivers only messages published after the subscription was created.
	StartNew StartPolicy = "new"
)

// Subscription defaults.
const (
	DefaultMaxRetries  = 3
	DefaultConcurrency = 1
	DefaultBatchSize   = 100
	DefaultAckWait     = 30 * time.Second
	// NoRetries as MaxRetries dead-letters a message on its first failure.
	NoRetries = -1
)

// DefaultBackoff is the retry schedule when none is configured.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}

// levelSuffix ends the consumer name of each priority level of a topic
// subscription: <durable>-critical … <durable>-low.
var levelSuffix = [numLevels]string{"-critical", "-high", "-normal", "-low"}

// Subscription is a durable subscription to a topic, or to the subjects of
// another stream (EVENTS for event handlers and process managers). Zero
// fields take the defaults.
//
// Subjects, MaxRetries, AckWait, MaxAckPending and InactiveThreshold are
// stored in the subscription's durable consumers and shared by every worker
// running it: a worker whose definition differs from the stored one is
// refused (ErrSubscriptionChanged) unless it is started with
// WithSubscriptionUpdate. Filters, Backoff, Concurrency, BatchSize and
// Middleware belong to each worker and may differ between them.
type Subscription struct {
	// Name identifies the subscription; it names its durable consumers.
	Name string
	// Topic to read; set either Topic or Stream.
	Topic string
	// Stream to read when not a topic, e.g. "EVENTS".
	Stream string
	// Subjects filter server-side. For a topic they are key patterns under
	// the priority token ("order.*" selects topic.<t>.<p>.order.*), none
	// meaning every message; for a stream they are full subjects
	// ("events.user.>"), none meaning the whole stream.
	Subjects []string
	// Mode is ModeQueue (default) or ModePubSub.
	Mode Mode
	// Instance distinguishes instances of a ModePubSub subscription; required
	// there, and stable across restarts so an instance resumes where it stopped.
	Instance string
	// Filters on payload fields; all must accept a message.
	Filters []Filter
	// MaxRetries after the first delivery (default 3; NoRetries for none).
	// A handler failure on delivery MaxRetries+1 or later dead-letters the
	// message; the consumer's MaxDeliver allows 5 deliveries more for
	// messages a stopping worker returned or a dead process left unacked.
	MaxRetries int
	// Backoff is the delay before each retry; the last entry repeats
	// (default 1s, 5s, 30s).
	Backoff []time.Duration
	// Concurrency bounds the handler calls in flight (default 1).
	Concurrency int
	// BatchSize is how many messages each priority level keeps pulled ahead
	// (default 100). Large batches are fast; keep BatchSize × handler time
	// well under AckWait, since buffered messages' ack wait is running.
	BatchSize int
	// AckWait is how long the server waits for an ack before redelivering
	// (default 30s). Long handlers are kept alive with progress acks.
	AckWait time.Duration
	// MaxAckPending bounds unacknowledged messages across all workers of the
	// subscription (default max(1000, 4×BatchSize)).
	MaxAckPending int
	// StartAt is StartAll (default) or StartNew. It applies when the
	// subscription is created; an existing one keeps its position.
	StartAt StartPolicy
	// InactiveThreshold, when set, lets the server delete the consumers after
	// that long without a worker; useful for ModePubSub instances.
	InactiveThreshold time.Duration
	// Handler processes messages; required by NewWorker.
	Handler Handler
	// Middleware wraps Handler, the first outermost.
	Middleware []Middleware
}

func (s Subscription) withDefaults() Subscription {
	if s.Mode == "" {
		s.Mode = ModeQueue
	}
	if s.MaxRetries == 0 {
		s.MaxRetries = DefaultMaxRetries
	}
	if len(s.Backoff) == 0 {
		s.Backoff = DefaultBackoff
	}
	if s.Concurrency == 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.BatchSize == 0 {
		s.BatchSize = DefaultBatchSize
	}
	if s.AckWait == 0 {
		s.AckWait = DefaultAckWait
	}
	if s.MaxAckPending == 0 {
		s.MaxAckPending = max(1000, 4*s.BatchSize)
	}
	if s.StartAt == "" {
		s.StartAt = StartAll
	}
	return s
}

// Validate reports every problem of the subscription at once. It does not
// require a Handler (configuration is validated before handlers exist).
func (s Subscription) Validate() error {
	s = s.withDefaults()
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: subscription %q: "+format, append([]any{ErrInvalidConfig, s.Name}, args...)...))
	}
	if err := validateName("subscription name", s.Name); err != nil {
		errs = append(errs, err)
	}
	switch {
	case s.Topic != "" && s.Stream != "":
		add("set topic or stream, not both")
	case s.Topic != "":
		if err := ValidateTopicName(s.Topic); err != nil {
			errs = append(errs, err)
		}
	case s.Stream != "":
		if err := streams.ValidateStreamName(s.Stream); err != nil {
			errs = append(errs, err)
		}
	default:
		add("set a topic or a stream")
	}
	for _, subj := range s.Subjects {
		if err := ValidateSubjectFilter(subj); err != nil {
			errs = append(errs, err)
		}
	}
	switch s.Mode {
	case ModeQueue:
		if s.Instance != "" {
			add("instance is only for pubsub mode")
		}
	case ModePubSub:
		if err := validateName("instance", s.Instance); err != nil {
			errs = append(errs, fmt.Errorf("%w (pubsub mode needs a stable instance name)", err))
		}
	default:
		add("mode %q: want queue or pubsub", s.Mode)
	}
	if _, err := CompileFilters(s.Filters); err != nil {
		errs = append(errs, err)
	}
	if s.MaxRetries < NoRetries || s.MaxRetries > 1000 {
		add("max retries %d: want 0 to 1000, or NoRetries", s.MaxRetries)
	}
	for _, d := range s.Backoff {
		if d <= 0 {
			add("backoff %s: delays must be positive", d)
			break
		}
	}
	if s.Concurrency < 1 || s.Concurrency > 4096 {
		add("concurrency %d: want 1 to 4096", s.Concurrency)
	}
	if s.BatchSize < 1 || s.BatchSize > 100_000 {
		add("batch size %d: want 1 to 100000", s.BatchSize)
	}
	if s.AckWait < time.Second {
		add("ack wait %s: want at least 1s", s.AckWait)
	}
	if s.MaxAckPending < s.BatchSize {
		add("max ack pending %d: want at least the batch size %d", s.MaxAckPending, s.BatchSize)
	}
	if s.StartAt != StartAll && s.StartAt != StartNew {
		add("start at %q: want all or new", s.StartAt)
	}
	if s.InactiveThreshold < 0 {
		add("inactive threshold must not be negative")
	}
	return errors.Join(errs...)
}

// Durable is the base name of the subscription's consumers: Name, or
// Name_Instance in pubsub mode. Topic subscriptions add a priority suffix.
func (s Subscription) Durable() string {
	if s.Mode == ModePubSub {
		return s.Name + "_" + s.Instance
	}
	return s.Name
}

// StreamName is the stream the subscription reads.
func (s Subscription) StreamName() string {
	if s.Topic != "" {
		return TopicStream(s.Topic)
	}
	return s.Stream
}

// spareDeliveries are deliveries the server allows beyond the retries for
// those that never reach a handler's verdict: messages returned by a worker
// that stops, or lost with a process that dies. Without them, a subscription
// with NoRetries would dead-letter every message a stop returned. The worker
// dead-letters a failing message itself once its delivery count reaches
// maxDeliver.
const spareDeliveries = 5

// maxDeliver is the first delivery plus retries: a handler failure on that
// delivery or a later one dead-letters the message.
func (s Subscription) maxDeliver() int {
	if s.MaxRetries == NoRetries {
		return 1
	}
	return s.MaxRetries + 1
}

// backoff is the delay before the retry that follows failed delivery n (1-based).
func (s Subscription) backoff(n int) time.Duration {
	i := min(max(n-1, 0), len(s.Backoff)-1)
	return s.Backoff[i]
}

// levelConsumer is one durable consumer of a subscription.
type levelConsumer struct {
	level int // scheduling level, 0 most urgent
	cfg   jetstream.ConsumerConfig
	// prefix is what the level's filters add to the subscription's key
	// patterns (topic.<t>.<priority>.); "" for a stream subscription.
	prefix string
}

// consumers returns the subscription's consumer definitions (defaults
// applied): four, one per priority, for a topic; one for a stream.
func (s Subscription) consumers() []levelConsumer {
	base := jetstream.ConsumerConfig{
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           s.AckWait,
		MaxDeliver:        s.maxDeliver() + spareDeliveries,
		MaxAckPending:     s.MaxAckPending,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: s.InactiveThreshold,
	}
	if s.StartAt == StartNew {
		base.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	if s.Topic == "" {
		c := base
		c.Durable = s.Durable()
		c.Description = "jetflow subscription " + s.Name
		if len(s.Subjects) == 1 {
			c.FilterSubject = s.Subjects[0]
		} else {
			c.FilterSubjects = slices.Clone(s.Subjects)
		}
		return []levelConsumer{{level: PriorityNormal.level(), cfg: c}}
	}
	out := make([]levelConsumer, 0, numLevels)
	for _, p := range priorities {
		c := base
		c.Durable = s.Durable() + levelSuffix[p.level()]
		c.Description = "jetflow subscription " + s.Name + " on topic " + s.Topic + ", priority " + p.String()
		prefix := TopicSubjectPrefix + "." + s.Topic + "." + p.String() + "."
		switch len(s.Subjects) {
		case 0:
			c.FilterSubject = prefix + ">"
		case 1:
			c.FilterSubject = prefix + s.Subjects[0]
		default:
			for _, subj := range s.Subjects {
				c.FilterSubjects = append(c.FilterSubjects, prefix+subj)
			}
		}
		out = append(out, levelConsumer{level: p.level(), cfg: c, prefix: prefix})
	}
	return out
}

// SubscriptionOf maps a consumer name of stream back to the subscription
// it belongs to: for a topic stream the priority suffix is removed.
func SubscriptionOf(stream, consumer string) string {
	if TopicOfStream(stream) == "" {
		return consumer
	}
	for _, suf := range levelSuffix {
		if base, ok := cutSuffix(consumer, suf); ok {
			return base
		}
	}
	return consumer
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

// ConsumerManager is the part of jetstream.JetStream that provisions consumers.
type ConsumerManager interface {
	Consumer(ctx context.Context, stream, consumer string) (jetstream.Consumer, error)
	CreateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error)
	UpdateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error)
}

// EnsureSubscription creates the subscription's durable consumers, without
// consuming. A subscription that exists keeps its position; if its stored
// definition differs from sub, it is refused with a
// *SubscriptionMismatchError (ErrSubscriptionChanged) and left unchanged,
// unless opts hold WithSubscriptionUpdate. Of the worker options only
// WithSubscriptionUpdate and WithLogger (which gets the update's warning)
// apply here.
func EnsureSubscription(ctx context.Context, js ConsumerManager, sub Subscription, opts ...WorkerOption) error {
	o := defaultWorkerOptions()
	for _, opt := range opts {
		opt(&o)
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_, err := ensureConsumers(ctx, js, sub, o.update, log.With(slog.String("subscription", sub.Name)))
	return err
}
