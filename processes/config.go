package processes

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/streams"
)

// Config defaults.
const (
	DefaultConcurrency    = 16
	DefaultRememberEnded  = 24 * time.Hour
	DefaultCommandTimeout = 10 * time.Second
	DefaultCacheSize      = 10_000
)

// Config is how a Manager runs; zero fields take the defaults. `jetflow
// serve` fills it from [processes.<name>] of jetflow.tsk.
type Config struct {
	// Events is the event store's layout: the stream read and its subject
	// prefix (streams' defaults, EVENTS and events).
	Events streams.Config
	// CommandPrefix is the command service's subject prefix (default "cmd").
	CommandPrefix string
	// Bucket holds the instances (default proc_<name>).
	Bucket string
	// DeadlineTopic is the topic deadlines are scheduled on (default
	// "deadlines"); the manager creates it.
	DeadlineTopic string
	// Replicas of the bucket and the deadline topic (default 1).
	Replicas int
	// KeepEnded is how long an ended instance's record stays readable
	// (`jetflow processes show`); 0 removes it when it ends.
	KeepEnded time.Duration
	// RememberEnded is how long, once its record is removed, an ended
	// instance is still known as ended, so that a late event for it is
	// skipped as such (default 24h). After that, an event that starts
	// instances would start it again.
	RememberEnded time.Duration
	// MaxRetries, Backoff and AckWait are the subscriptions'
	// (consumers.Subscription): a failing message is retried MaxRetries
	// times with Backoff (default 3: 1s, 5s, 30s), then dead-lettered.
	MaxRetries int
	Backoff    []time.Duration
	AckWait    time.Duration
	// Concurrency bounds the messages handled at once (default 16); one
	// instance handles one message at a time whatever it is.
	Concurrency int
	// CommandTimeout bounds the sending of one command (default 10s).
	CommandTimeout time.Duration
	// History is how many handled messages a record lists at least
	// (default 32). Older events stay listed while they are above the
	// event consumer's ack floor (JetStream may still redeliver them),
	// up to 1,000, so a redelivery is recognised and not decided again.
	History int
	// CacheSize is how many instance records are kept in memory (default
	// 10,000), saving a read before a write; a stale one costs a failed
	// compare-and-set.
	CacheSize int
}

func (c Config) withDefaults(name string) Config {
	if c.Events.EventStream == "" {
		c.Events.EventStream = streams.DefaultEventStream
	}
	if c.Events.SubjectPrefix == "" {
		c.Events.SubjectPrefix = streams.DefaultSubjectPrefix
	}
	if c.CommandPrefix == "" {
		c.CommandPrefix = client.DefaultCommandPrefix
	}
	if c.Bucket == "" {
		c.Bucket = Bucket(name)
	}
	if c.DeadlineTopic == "" {
		c.DeadlineTopic = DefaultDeadlineTopic
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.RememberEnded == 0 {
		c.RememberEnded = DefaultRememberEnded
	}
	if c.AckWait == 0 {
		c.AckWait = consumers.DefaultAckWait
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.CommandTimeout == 0 {
		c.CommandTimeout = DefaultCommandTimeout
	}
	if c.History == 0 {
		c.History = DefaultHistory
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	return c
}

// Validate reports every problem at once (defaults applied first).
func (c Config) Validate(name string) error {
	c = c.withDefaults(name)
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: process %q: "+format, append([]any{ErrInvalidConfig, name}, args...)...))
	}
	if err := streams.ValidateStreamName(c.Events.EventStream); err != nil {
		add("event stream: %v", err)
	}
	if err := streams.ValidateSubjectPrefix(c.Events.SubjectPrefix); err != nil {
		add("subject prefix: %v", err)
	}
	if err := streams.ValidateSubjectPrefix(c.CommandPrefix); err != nil {
		add("command prefix: %v", err)
	}
	if err := validateBucket(c.Bucket); err != nil {
		add("%v", err)
	}
	if err := consumers.ValidateTopicName(c.DeadlineTopic); err != nil {
		add("deadline topic: %v", err)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		add("replicas %d: want 1 to 5", c.Replicas)
	}
	if c.KeepEnded < 0 || (c.KeepEnded > 0 && c.KeepEnded < time.Second) {
		add("keep ended %s: want 0 or at least 1s", c.KeepEnded)
	}
	if c.RememberEnded < time.Second {
		add("remember ended %s: want at least 1s", c.RememberEnded)
	}
	if c.Concurrency < 1 || c.Concurrency > 4096 {
		add("concurrency %d: want 1 to 4096", c.Concurrency)
	}
	if c.CommandTimeout < time.Millisecond {
		add("command timeout %s: want at least 1ms", c.CommandTimeout)
	}
	if c.History < 1 || c.History > 1000 {
		add("history %d: want 1 to 1000", c.History)
	}
	if c.CacheSize < 1 {
		add("cache size %d: want at least 1", c.CacheSize)
	}
	// The rest is the subscriptions' to check.
	sub := consumers.Subscription{Name: ConsumerPrefix + "check", Stream: c.Events.EventStream, MaxRetries: c.MaxRetries,
		Backoff: c.Backoff, AckWait: c.AckWait, Concurrency: c.Concurrency}
	if err := sub.Validate(); err != nil {
		add("%v", err)
	}
	return errors.Join(errs...)
}

// validateBucket: letters, digits, '-' and '_' (a KV bucket's name).
func validateBucket(b string) error {
	if b == "" || len(b) > 64 {
		return fmt.Errorf("bucket %q: 1 to 64 characters", b)
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return fmt.Errorf("bucket %q: character %q not allowed (letters, digits, '-' and '_')", b, rune(c))
		}
	}
	return nil
}

// Option configures a Manager.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	metrics    Metrics
	now        func() time.Time
	workerOpts []consumers.WorkerOption
}

// WithLogger sets the manager's logger (default: discard). Skipped
// messages are logged at Info, failures at Warn.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMetrics reports what the manager does to m (default: nothing), e.g.
// the Prometheus adapter of package metrics.
func WithMetrics(m Metrics) Option { return func(o *options) { o.metrics = m } }

// WithClock sets the clock handlers see as Instance.Now and deadlines
// count from (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithWorkerOptions passes options to the manager's two workers (events
// and deadlines): consumers.WithDLQ, WithoutDLQ, WithMetrics,
// WithShutdownGrace, WithSubscriptionUpdate.
func WithWorkerOptions(opts ...consumers.WorkerOption) Option {
	return func(o *options) { o.workerOpts = append(o.workerOpts, opts...) }
}
