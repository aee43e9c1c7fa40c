package projections

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
)

// Defaults of the runner.
const (
	DefaultMetaBucket     = "jetflow_projections"
	DefaultBucketPrefix   = "rm_"
	DefaultConsumerPrefix = "jetflow_projection_"
	DefaultMaxBatch       = 512
	DefaultMaxInflight    = 4096
	DefaultCatchUpBatch   = 16384
	DefaultCatchUpWait    = 100 * time.Millisecond
	DefaultRetries        = 4
	DefaultRetryBackoff   = 100 * time.Millisecond
	DefaultMaxBackoff     = 5 * time.Second
	DefaultLeaseTTL       = 10 * time.Second
	DefaultCacheSize      = 200_000
	DefaultStatusInterval = time.Second
	DefaultWriteTimeout   = 10 * time.Second
)

// Config configures the runner, the admin operations and the views. The
// zero value of every field takes its default.
type Config struct {
	// Streams names the event stream and gives replicas and storage to the
	// buckets and consumers the runner creates.
	Streams streams.Config
	// MetaBucket holds each projection's active generation, operator
	// requests, status and leases.
	MetaBucket string
	// BucketPrefix starts every read model bucket: rm_<name>.
	BucketPrefix string
	// ConsumerPrefix starts every projection's durable consumer name.
	ConsumerPrefix string
	// MaxBatch is the most events applied before their writes are sent.
	MaxBatch int
	// MaxInflight bounds the unconfirmed writes of one projection.
	MaxInflight int
	// CatchUpBatch is the most events one batch gathers while the consumer
	// reports more pending (a rebuild, a restart after downtime): events
	// of one record within a batch cost one write. CatchUpWait bounds how
	// long such a batch gathers, so the checkpoint keeps moving.
	CatchUpBatch int
	CatchUpWait  time.Duration
	// Retries of a failing handler before the projection stops as failed.
	Retries int
	// RetryBackoff is the first retry's delay; it doubles up to MaxBackoff.
	RetryBackoff time.Duration
	MaxBackoff   time.Duration
	// Backoff, when set, lists the delays between retries instead; the
	// last one repeats.
	Backoff []time.Duration
	// LeaseTTL is how long a crashed runner's generation stays locked
	// before a standby takes it over (at least 1s; the server expires it).
	LeaseTTL time.Duration
	// CacheSize is how many records a projection keeps in memory between
	// batches, so a hot record is not read back from the bucket.
	CacheSize int
	// StatusInterval is how often status (lag, rate) is published.
	StatusInterval time.Duration
	// WriteTimeout bounds the confirmation of one write.
	WriteTimeout time.Duration
	// Upcasters bring old event schemas to the current shape before Apply.
	Upcasters *streams.Upcasters
	// MaxWait bounds how long a view's Read waits for a min_sequence
	// (queries.min_sequence_wait; default DefaultMaxWait).
	MaxWait time.Duration

	// Set by the constructors' options (WithLogger, WithMetrics).
	logger  *slog.Logger
	metrics Metrics
}

func (c Config) withDefaults() Config {
	if c.Streams.EventStream == "" {
		c.Streams.EventStream = streams.DefaultEventStream
	}
	if c.Streams.SubjectPrefix == "" {
		c.Streams.SubjectPrefix = streams.DefaultSubjectPrefix
	}
	if c.Streams.Replicas == 0 {
		c.Streams.Replicas = 1
	}
	if c.MetaBucket == "" {
		c.MetaBucket = DefaultMetaBucket
	}
	if c.BucketPrefix == "" {
		c.BucketPrefix = DefaultBucketPrefix
	}
	if c.ConsumerPrefix == "" {
		c.ConsumerPrefix = DefaultConsumerPrefix
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	// A batch's writes must fit the in-flight window.
	c.MaxBatch = min(c.MaxBatch, c.MaxInflight)
	if c.CatchUpBatch <= 0 {
		c.CatchUpBatch = max(DefaultCatchUpBatch, c.MaxBatch)
	}
	if c.CatchUpWait <= 0 {
		c.CatchUpWait = DefaultCatchUpWait
	}
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.CacheSize <= 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.StatusInterval <= 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.metrics == nil {
		c.metrics = nopMetrics{}
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := streams.ValidateStreamName(c.Streams.EventStream); err != nil {
		errs = append(errs, fmt.Errorf("%w: event stream: %w", ErrInvalidConfig, err))
	}
	if err := streams.ValidateBucketName(c.MetaBucket); err != nil {
		errs = append(errs, fmt.Errorf("%w: meta bucket: %w", ErrInvalidConfig, err))
	}
	if err := streams.ValidateBucketName(c.BucketPrefix + "x"); err != nil {
		errs = append(errs, fmt.Errorf("%w: bucket prefix: %w", ErrInvalidConfig, err))
	}
	if err := streams.ValidateStreamName(c.ConsumerPrefix + "x"); err != nil {
		errs = append(errs, fmt.Errorf("%w: consumer prefix: %w", ErrInvalidConfig, err))
	}
	if c.Streams.Replicas < 1 || c.Streams.Replicas > 5 {
		errs = append(errs, fmt.Errorf("%w: replicas %d: must be 1 to 5", ErrInvalidConfig, c.Streams.Replicas))
	}
	if c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("%w: lease TTL %s: must be at least 1s (the server's TTL granularity)", ErrInvalidConfig, c.LeaseTTL))
	}
	if c.CatchUpBatch < c.MaxBatch {
		errs = append(errs, fmt.Errorf("%w: catch-up batch %d is below max batch %d", ErrInvalidConfig, c.CatchUpBatch, c.MaxBatch))
	}
	for _, d := range c.Backoff {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%w: backoff %s: delays must be positive", ErrInvalidConfig, d))
		}
	}
	return errors.Join(errs...)
}

// forProjection is the configuration one projection runs with: the
// runner's, with the projection's own overrides.
func (c Config) forProjection(p Projection) Config {
	if p.MaxInflight > 0 {
		c.MaxInflight = p.MaxInflight
		c.MaxBatch = min(c.MaxBatch, c.MaxInflight)
	}
	if p.Retries > 0 {
		c.Retries = p.Retries
	}
	if len(p.Backoff) > 0 {
		c.Backoff = p.Backoff
	}
	return c
}

func (c Config) storage() jetstream.StorageType {
	if c.Streams.MemoryStorage {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// backoff is the delay before retry n (0-based).
func (c Config) backoff(n int) time.Duration {
	if len(c.Backoff) > 0 {
		return c.Backoff[min(n, len(c.Backoff)-1)]
	}
	d := c.RetryBackoff
	for range n {
		d *= 2
		if d >= c.MaxBackoff {
			return c.MaxBackoff
		}
	}
	return d
}
