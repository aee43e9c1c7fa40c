package consumers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// WorkerConfig is what `jetflow worker` runs: topics to provision,
// subscriptions with webhook handlers, and the DLQ. It is a plain struct
// with defaults so any configuration front end (flags, JSON, jetflow.tsk)
// can fill it; Validate reports every problem at once.
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

// duration reads "1s", "5m" in JSON.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

type jsonTopic struct {
	Name            string   `json:"name"`
	Retention       duration `json:"retention"`
	Replicas        int      `json:"replicas"`
	DuplicateWindow duration `json:"duplicate_window"`
	MaxMsgs         int64    `json:"max_msgs"`
	MaxBytes        int64    `json:"max_bytes"`
}

type jsonWebhook struct {
	URL     string            `json:"url"`
	Timeout duration          `json:"timeout"`
	Headers map[string]string `json:"headers"`
}

type jsonSubscription struct {
	Name              string      `json:"name"`
	Topic             string      `json:"topic"`
	Stream            string      `json:"stream"`
	Subjects          []string    `json:"subjects"`
	Mode              Mode        `json:"mode"`
	Instance          string      `json:"instance"`
	Filters           []Filter    `json:"filters"`
	MaxRetries        *int        `json:"max_retries"`
	Backoff           []duration  `json:"backoff"`
	Concurrency       int         `json:"concurrency"`
	BatchSize         int         `json:"batch_size"`
	AckWait           duration    `json:"ack_wait"`
	MaxAckPending     int         `json:"max_ack_pending"`
	StartAt           StartPolicy `json:"start_at"`
	InactiveThreshold duration    `json:"inactive_threshold"`
	Webhook           jsonWebhook `json:"webhook"`
}

type jsonDLQ struct {
	Stream    string   `json:"stream"`
	Retention duration `json:"retention"`
	Replicas  int      `json:"replicas"`
	MaxMsgs   int64    `json:"max_msgs"`
}

type jsonWorker struct {
	Topics        []jsonTopic        `json:"topics"`
	Subscriptions []jsonSubscription `json:"subscriptions"`
	DLQ           jsonDLQ            `json:"dlq"`
	ShutdownGrace duration           `json:"shutdown_grace"`
}

// LoadWorkerConfig reads the JSON form of a WorkerConfig (snake_case keys,
// durations as strings; an explicit "max_retries": 0 means no retries)
// and validates it. Unknown keys are errors.
//
//	{"topics": [{"name": "orders", "retention": "168h"}],
//	 "subscriptions": [{"name": "billing", "topic": "orders", "subjects": ["created"],
//	   "filters": [{"field": "amount", "operator": "greater_than", "value": 100}],
//	   "max_retries": 3, "backoff": ["1s", "5s", "30s"], "concurrency": 4,
//	   "webhook": {"url": "http://billing:8080/hook", "timeout": "10s"}}]}
func LoadWorkerConfig(r io.Reader) (WorkerConfig, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return WorkerConfig{}, err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var j jsonWorker
	if err := d.Decode(&j); err != nil {
		return WorkerConfig{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return WorkerConfig{}, fmt.Errorf("%w: data after the configuration object at byte %d", ErrInvalidConfig, d.InputOffset())
	}
	cfg := WorkerConfig{
		DLQ: DLQConfig{Stream: j.DLQ.Stream, Retention: time.Duration(j.DLQ.Retention),
			Replicas: j.DLQ.Replicas, MaxMsgs: j.DLQ.MaxMsgs},
		ShutdownGrace: time.Duration(j.ShutdownGrace),
	}
	for _, t := range j.Topics {
		cfg.Topics = append(cfg.Topics, TopicConfig{Name: t.Name, Retention: time.Duration(t.Retention),
			Replicas: t.Replicas, DuplicateWindow: time.Duration(t.DuplicateWindow), MaxMsgs: t.MaxMsgs, MaxBytes: t.MaxBytes})
	}
	for _, s := range j.Subscriptions {
		sub := Subscription{
			Name: s.Name, Topic: s.Topic, Stream: s.Stream, Subjects: s.Subjects, Mode: s.Mode,
			Instance: s.Instance, Filters: s.Filters, Concurrency: s.Concurrency, BatchSize: s.BatchSize,
			AckWait: time.Duration(s.AckWait), MaxAckPending: s.MaxAckPending, StartAt: s.StartAt,
			InactiveThreshold: time.Duration(s.InactiveThreshold),
		}
		if s.MaxRetries != nil {
			sub.MaxRetries = *s.MaxRetries
			if sub.MaxRetries == 0 {
				sub.MaxRetries = NoRetries
			}
		}
		for _, b := range s.Backoff {
			sub.Backoff = append(sub.Backoff, time.Duration(b))
		}
		cfg.Subscriptions = append(cfg.Subscriptions, SubscriptionConfig{
			Subscription: sub,
			Webhook:      WebhookConfig{URL: s.Webhook.URL, Timeout: time.Duration(s.Webhook.Timeout), Headers: s.Webhook.Headers},
		})
	}
	if err := cfg.Validate(); err != nil {
		return WorkerConfig{}, err
	}
	return cfg, nil
}
