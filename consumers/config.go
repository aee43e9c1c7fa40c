package consumers

import (
	"errors"
	"fmt"
	"time"
)

// WorkerConfig is what `jetflow worker` runs: topics to provision,
// subscriptions with webhook handlers, and the DLQ. It is a plain struct
// with defaults so any configuration front end (the worker's flags, its
// JSON file, jetflow.tsk) can fill it; Validate reports every problem at
// once.
type WorkerConfig struct {
	// Topics are created or updated at start (optional: topics may be
	// provisioned elsewhere).
	Topics []TopicConfig
	// Subscriptions to run; each needs a webhook.
	Subscriptions []SubscriptionConfig
	// DLQ is created at start when missing.
	DLQ DLQConfig
	// ShutdownGrace is how long in-flight messages may finish on shutdown
	// (default 30s).
	ShutdownGrace time.Duration
	// Middleware wraps every subscription's handler, inside panic
	// recovery and logging.
	Middleware []Middleware `json:"-"`
}

// SubscriptionConfig is a subscription whose handler is a webhook.
type SubscriptionConfig struct {
	Subscription
	Webhook WebhookConfig
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	c.DLQ = c.DLQ.withDefaults()
	return c
}

// Validate reports every problem of the configuration, joined.
func (c WorkerConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	topics := map[string]bool{}
	for i, t := range c.Topics {
		if err := t.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("topics[%d]: %w", i, err))
		}
		if topics[t.Name] {
			errs = append(errs, fmt.Errorf("%w: topics[%d]: topic %q defined twice", ErrInvalidConfig, i, t.Name))
		}
		topics[t.Name] = true
	}
	if len(c.Subscriptions) == 0 {
		errs = append(errs, fmt.Errorf("%w: no subscriptions to run", ErrInvalidConfig))
	}
	seen := map[string]bool{}
	for i, s := range c.Subscriptions {
		if err := s.Subscription.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("subscriptions[%d]: %w", i, err))
		}
		if err := s.Webhook.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("subscriptions[%d]: %w", i, err))
		}
		key := s.StreamName() + "/" + s.withDefaults().Durable()
		if seen[key] {
			errs = append(errs, fmt.Errorf("%w: subscriptions[%d]: %q defined twice on %s", ErrInvalidConfig, i, s.Name, s.StreamName()))
		}
		seen[key] = true
	}
	if err := c.DLQ.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownGrace < 0 {
		errs = append(errs, fmt.Errorf("%w: shutdown grace must not be negative", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}
