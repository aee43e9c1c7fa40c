package app

import (
	"errors"
	"fmt"
	"slices"
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
		wc.Subscriptions = append(wc.Subscriptions, consumers.SubscriptionConfig{
			Subscription: sub,
			Webhook:      consumers.WebhookConfig{URL: s.Webhook.URL, Timeout: s.Webhook.Timeout},
		})
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
