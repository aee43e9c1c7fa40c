package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the wire contract; every one is configurable.
const (
	DefaultEventStream     = "EVENTS"
	DefaultSubjectPrefix   = "events"
	DefaultSnapshotBucket  = "jetflow_snapshots"
	DefaultDuplicateWindow = 2 * time.Minute
	// MaxBatchEvents is the most events one commit (one Append) holds.
	MaxBatchEvents = 1000
	// DefaultMaxConcurrentBatches was the default of MaxConcurrentBatches.
	//
	// Deprecated: commits are single messages; nothing is bounded by it.
	DefaultMaxConcurrentBatches = 32
)

// Config names and sizes the event store's streams.
type Config struct {
	// EventStream is the stream that holds every event.
	EventStream string
	// SubjectPrefix starts every event subject: <prefix>.<type>.<id>.
	SubjectPrefix string
	// SnapshotBucket is the KV bucket of aggregate snapshots.
	SnapshotBucket string
	// Replicas of the stream and the bucket (1 standalone, 3 in a cluster).
	Replicas int
	// MaxEventsPerAppend caps one append; at most MaxBatchEvents.
	MaxEventsPerAppend int
	// MaxConcurrentBatches capped the multi-event appends in flight when
	// they were atomic batches (the server keeps at most 50 open per
	// stream). It is still validated, so configurations that set it load.
	//
	// Deprecated: a commit is one message, whatever its events; nothing
	// waits on it any more.
	MaxConcurrentBatches int
	// DuplicateWindow is how long JetStream remembers event ids for retries.
	DuplicateWindow time.Duration
	// MemoryStorage keeps the stream in memory (tests and benchmarks only).
	MemoryStorage bool
}

// DefaultConfig returns the wire contract's names on a single replica.
func DefaultConfig() Config {
	return Config{
		EventStream:          DefaultEventStream,
		SubjectPrefix:        DefaultSubjectPrefix,
		SnapshotBucket:       DefaultSnapshotBucket,
		Replicas:             1,
		MaxEventsPerAppend:   MaxBatchEvents,
		MaxConcurrentBatches: DefaultMaxConcurrentBatches,
		DuplicateWindow:      DefaultDuplicateWindow,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.EventStream == "" {
		c.EventStream = d.EventStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = d.SubjectPrefix
	}
	if c.SnapshotBucket == "" {
		c.SnapshotBucket = d.SnapshotBucket
	}
	if c.Replicas == 0 {
		c.Replicas = d.Replicas
	}
	if c.MaxEventsPerAppend == 0 {
		c.MaxEventsPerAppend = d.MaxEventsPerAppend
	}
	if c.MaxConcurrentBatches == 0 {
		c.MaxConcurrentBatches = d.MaxConcurrentBatches
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = d.DuplicateWindow
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := ValidateStreamName(c.EventStream); err != nil {
		errs = append(errs, fmt.Errorf("event stream: %w", err))
	}
	if err := ValidateSubjectPrefix(c.SubjectPrefix); err != nil {
		errs = append(errs, fmt.Errorf("subject prefix: %w", err))
	}
	if err := ValidateBucketName(c.SnapshotBucket); err != nil {
		errs = append(errs, fmt.Errorf("snapshot bucket: %w", err))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d: must be 1 to 5", c.Replicas))
	}
	if c.MaxEventsPerAppend < 1 || c.MaxEventsPerAppend > MaxBatchEvents {
		errs = append(errs, fmt.Errorf("max events per append %d: must be 1 to %d", c.MaxEventsPerAppend, MaxBatchEvents))
	}
	if c.MaxConcurrentBatches < 1 {
		errs = append(errs, fmt.Errorf("max concurrent batches %d: must be at least 1", c.MaxConcurrentBatches))
	}
	if c.DuplicateWindow < time.Second {
		errs = append(errs, fmt.Errorf("duplicate window %s: must be at least 1s", c.DuplicateWindow))
	}
	return errors.Join(errs...)
}

func (c Config) storage() jetstream.StorageType {
	if c.MemoryStorage {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// EventStreamConfig is the definition of the event stream.
func (c Config) EventStreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:               c.EventStream,
		Description:        "jetflow event store: one subject per aggregate",
		Subjects:           []string{c.SubjectPrefix + ".>"},
		Retention:          jetstream.LimitsPolicy,
		Storage:            c.storage(),
		Replicas:           c.Replicas,
		Duplicates:         c.DuplicateWindow,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
	}
}

// SnapshotBucketConfig is the definition of the snapshot bucket.
func (c Config) SnapshotBucketConfig() jetstream.KeyValueConfig {
	c = c.withDefaults()
	return jetstream.KeyValueConfig{
		Bucket:      c.SnapshotBucket,
		Description: "jetflow aggregate snapshots: <type>.<id>",
		History:     1,
		Storage:     c.storage(),
		Replicas:    c.Replicas,
	}
}

// Provision creates or updates the event stream and the snapshot bucket.
// It is safe to call from every instance at every start.
func Provision(ctx context.Context, js KeyValueManager, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := EnsureStream(ctx, js, cfg.EventStreamConfig()); err != nil {
		return err
	}
	_, err := EnsureKeyValue(ctx, js, cfg.SnapshotBucketConfig())
	return err
}
