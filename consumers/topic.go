package consumers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
)

// Topic defaults.
const (
	DefaultTopicRetention       = 7 * 24 * time.Hour
	DefaultTopicDuplicateWindow = 2 * time.Minute
)

// TopicConfig defines a topic: the stream TOPIC_<NAME> over topic.<name>.>.
// Zero fields take the defaults.
type TopicConfig struct {
	// Name is the topic: lower-case letters, digits, '_' and '-'.
	Name string
	// Retention is how long messages are kept (the stream's max age),
	// whether or not they were consumed (default 7 days). Dead letters can
	// only show and replay originals within it.
	Retention time.Duration
	// Replicas of the stream (1 standalone, 3 in a cluster).
	Replicas int
	// DuplicateWindow is how long message ids are remembered (default 2m).
	DuplicateWindow time.Duration
	// MaxMsgs and MaxBytes bound the stream (0 = unlimited); the oldest
	// messages are discarded first.
	MaxMsgs  int64
	MaxBytes int64
	// MemoryStorage keeps the stream in memory (tests and benchmarks).
	MemoryStorage bool
}

func (c TopicConfig) withDefaults() TopicConfig {
	if c.Retention == 0 {
		c.Retention = DefaultTopicRetention
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultTopicDuplicateWindow
	}
	return c
}

// Validate reports every problem of the definition at once.
func (c TopicConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := ValidateTopicName(c.Name); err != nil {
		errs = append(errs, err)
	}
	if c.Retention < time.Second {
		errs = append(errs, fmt.Errorf("%w: topic %q retention %s: must be at least 1s", ErrInvalidConfig, c.Name, c.Retention))
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("%w: topic %q replicas %d: must be 1 to 5", ErrInvalidConfig, c.Name, c.Replicas))
	}
	if c.DuplicateWindow < time.Second || c.DuplicateWindow > c.Retention {
		errs = append(errs, fmt.Errorf("%w: topic %q duplicate window %s: must be at least 1s and at most the retention", ErrInvalidConfig, c.Name, c.DuplicateWindow))
	}
	if c.MaxMsgs < 0 || c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: topic %q max msgs/bytes must not be negative", ErrInvalidConfig, c.Name))
	}
	return errors.Join(errs...)
}

// StreamConfig is the topic's stream definition. Limits retention, not
// work-queue: a dead letter's original is fetched by sequence after it was
// delivered, and every pub/sub subscription reads the same messages.
func (c TopicConfig) StreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	storage := jetstream.FileStorage
	if c.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	return jetstream.StreamConfig{
		Name:        TopicStream(c.Name),
		Description: "jetflow topic " + c.Name + ": topic.<name>.<priority>.<key>",
		Subjects:    []string{TopicSubjects(c.Name)},
		Retention:   jetstream.LimitsPolicy,
		Storage:     storage,
		Replicas:    c.Replicas,
		MaxAge:      c.Retention,
		MaxMsgs:     c.MaxMsgs,
		MaxBytes:    c.MaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  c.DuplicateWindow,
		AllowMsgTTL: true,
		AllowDirect: true,
		// Scheduled messages (schedule.go); the server requires roll-ups
		// with them, and a schedule replaces the last one of its id.
		AllowMsgSchedules: true,
		AllowRollup:       true,
	}
}

// EnsureTopic creates the topic's stream or brings it to its definition; see
// streams.EnsureStream for what cannot change in place.
func EnsureTopic(ctx context.Context, js streams.StreamManager, cfg TopicConfig) (jetstream.Stream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return streams.EnsureStream(ctx, js, cfg.StreamConfig())
}
