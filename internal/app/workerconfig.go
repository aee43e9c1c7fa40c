package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
)

// workerConfigFromSettings turns jetflow.tsk's [topics.*], [subscriptions.*]
// and [dlq] sections into what the worker runs. instance names this worker
// for pub/sub subscriptions (each instance gets every message).
func workerConfigFromSettings(cfg config.Config, instance string) (consumers.WorkerConfig, error) {
	var wc consumers.WorkerConfig
	var errs []error
	for _, name := range sortedKeys(cfg.Topics) {
		t := cfg.Topics[name]
		wc.Topics = append(wc.Topics, consumers.TopicConfig{
			Name: name, Retention: t.Retention, Replicas: t.Replicas, DuplicateWindow: t.DuplicateWindow,
		})
	}
	for _, name := range sortedKeys(cfg.Subscriptions) {
		s, _ := cfg.Subscription(name) // max_retries and backoff inherited from the topic
		sub := consumers.Subscription{
			Name: name, Topic: s.Topic, Subjects: s.Subjects, Mode: consumers.Mode(s.Mode),
			MaxRetries: s.MaxRetries, Backoff: s.Backoff, Concurrency: s.Concurrency,
		}
		if s.Topic == "" {
			sub.Stream = cfg.Events.Stream
		}
		if sub.Mode == consumers.ModePubSub {
			sub.Instance = instance
		}
		if s.MaxRetries == 0 {
			// 0 in the file means none; 0 in consumers means the default.
			sub.MaxRetries = consumers.NoRetries
		}
		if s.Filter.Field != "" {
			sub.Filters = []consumers.Filter{{Field: s.Filter.Field, Operator: consumers.Operator(s.Filter.Op), Value: s.Filter.Value}}
		}
		hook := consumers.WebhookConfig{URL: s.Webhook.URL, Timeout: s.Webhook.Timeout, Secret: s.Webhook.Secret,
			Redirects: consumers.RedirectPolicy(s.Webhook.Redirects)}
		for _, h := range s.Webhook.Headers { // "Name: value", as Validate checked
			k, v, _ := strings.Cut(h, ":")
			if hook.Headers == nil {
				hook.Headers = map[string]string{}
			}
			hook.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		wc.Subscriptions = append(wc.Subscriptions, consumers.SubscriptionConfig{Subscription: sub, Webhook: hook})
	}
	if len(wc.Subscriptions) == 0 {
		errs = append(errs, errors.New("the configuration has no [subscriptions.<name>] section: nothing for the worker to run"))
	}
	if !cfg.DLQ.Enabled {
		errs = append(errs, errors.New("dlq.enabled is false, but workers dead-letter failed messages; enable it"))
	}
	wc.DLQ = consumers.DLQConfig{Stream: cfg.DLQ.Stream, Retention: cfg.DLQ.Retention, Replicas: cfg.DLQ.Replicas}
	if err := wc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return consumers.WorkerConfig{}, fmt.Errorf("worker configuration: %w", err)
	}
	return wc, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// boundWorkerFlags sets the ranges of the worker's numeric flags, those of
// consumers.Subscription's Validate: a value out of range is an error
// naming the flag, where the library would read 0 as "default" (30s of
// shutdown grace, one handler call, the default webhook timeout) and -1 as
// "no retries".
func boundWorkerFlags(fs *pflag.FlagSet) {
	between(fs, "max-retries", 0, 1000)
	between(fs, "concurrency", 1, 4096)
	between(fs, "batch", 1, 100_000)
	between(fs, "replicas", 1, 5)
	atLeastDuration(fs, "ack-wait", time.Second)
	atLeastDuration(fs, "retention", time.Second)
	atLeastDuration(fs, "webhook-timeout", time.Nanosecond)
	atLeastDuration(fs, "shutdown-grace", time.Nanosecond)
	atLeastDuration(fs, "backoff", time.Nanosecond)
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
	URL       string                   `json:"url"`
	Timeout   duration                 `json:"timeout"`
	Headers   map[string]string        `json:"headers"`
	Secret    string                   `json:"secret"`
	Redirects consumers.RedirectPolicy `json:"redirects"`
}

type jsonSubscription struct {
	Name              string                `json:"name"`
	Topic             string                `json:"topic"`
	Stream            string                `json:"stream"`
	Subjects          []string              `json:"subjects"`
	Mode              consumers.Mode        `json:"mode"`
	Instance          string                `json:"instance"`
	Filters           []consumers.Filter    `json:"filters"`
	MaxRetries        *int                  `json:"max_retries"`
	Backoff           []duration            `json:"backoff"`
	Concurrency       int                   `json:"concurrency"`
	BatchSize         int                   `json:"batch_size"`
	AckWait           duration              `json:"ack_wait"`
	MaxAckPending     int                   `json:"max_ack_pending"`
	StartAt           consumers.StartPolicy `json:"start_at"`
	InactiveThreshold duration              `json:"inactive_threshold"`
	Webhook           jsonWebhook           `json:"webhook"`
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

// loadWorkerConfig reads `jetflow worker --config worker.json`: a
// consumers.WorkerConfig as JSON (snake_case keys, durations as strings;
// an explicit "max_retries": 0 means no retries), validated. Unknown keys
// and anything after the object are errors matching
// consumers.ErrInvalidConfig.
//
//	{"topics": [{"name": "orders", "retention": "168h"}],
//	 "subscriptions": [{"name": "billing", "topic": "orders", "subjects": ["created"],
//	   "filters": [{"field": "amount", "operator": "greater_than", "value": 100}],
//	   "max_retries": 3, "backoff": ["1s", "5s", "30s"], "concurrency": 4,
//	   "webhook": {"url": "http://billing:8080/hook", "timeout": "10s"}}]}
func loadWorkerConfig(r io.Reader) (consumers.WorkerConfig, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return consumers.WorkerConfig{}, err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var j jsonWorker
	if err := d.Decode(&j); err != nil {
		return consumers.WorkerConfig{}, fmt.Errorf("%w: %w", consumers.ErrInvalidConfig, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return consumers.WorkerConfig{}, fmt.Errorf("%w: data after the configuration object at byte %d", consumers.ErrInvalidConfig, d.InputOffset())
	}
	cfg := consumers.WorkerConfig{
		DLQ: consumers.DLQConfig{Stream: j.DLQ.Stream, Retention: time.Duration(j.DLQ.Retention),
			Replicas: j.DLQ.Replicas, MaxMsgs: j.DLQ.MaxMsgs},
		ShutdownGrace: time.Duration(j.ShutdownGrace),
	}
	for _, t := range j.Topics {
		cfg.Topics = append(cfg.Topics, consumers.TopicConfig{Name: t.Name, Retention: time.Duration(t.Retention),
			Replicas: t.Replicas, DuplicateWindow: time.Duration(t.DuplicateWindow), MaxMsgs: t.MaxMsgs, MaxBytes: t.MaxBytes})
	}
	for _, s := range j.Subscriptions {
		sub := consumers.Subscription{
			Name: s.Name, Topic: s.Topic, Stream: s.Stream, Subjects: s.Subjects, Mode: s.Mode,
			Instance: s.Instance, Filters: s.Filters, Concurrency: s.Concurrency, BatchSize: s.BatchSize,
			AckWait: time.Duration(s.AckWait), MaxAckPending: s.MaxAckPending, StartAt: s.StartAt,
			InactiveThreshold: time.Duration(s.InactiveThreshold),
		}
		if s.MaxRetries != nil {
			sub.MaxRetries = *s.MaxRetries
			if sub.MaxRetries == 0 {
				sub.MaxRetries = consumers.NoRetries
			}
		}
		for _, b := range s.Backoff {
			sub.Backoff = append(sub.Backoff, time.Duration(b))
		}
		cfg.Subscriptions = append(cfg.Subscriptions, consumers.SubscriptionConfig{
			Subscription: sub,
			Webhook: consumers.WebhookConfig{URL: s.Webhook.URL, Timeout: time.Duration(s.Webhook.Timeout), Headers: s.Webhook.Headers,
				Secret: s.Webhook.Secret, Redirects: s.Webhook.Redirects},
		})
	}
	if err := cfg.Validate(); err != nil {
		return consumers.WorkerConfig{}, err
	}
	return cfg, nil
}
