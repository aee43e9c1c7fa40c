package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
)

func TestWorkerConfigFromTuskLang(t *testing.T) {
	t.Parallel()
	src := `
[topics.orders]
retention: "24h"
max_retries: 5
backoff: ["1s", "2s"]

[subscriptions.billing]
topic: "orders"
subjects: ["order.*"]
filter_field: "amount"
filter_op: "greater_than"
filter_value: 100
webhook_url: "http://billing.local/hook"
webhook_timeout: "3s"
concurrency: 4

[subscriptions.mailer]
subjects: ["events.user.>"]
mode: "pubsub"
max_retries: 0
webhook_url: "http://mail.local/hook"
`
	cfg, err := config.Decode("jetflow.tsk", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	wc, err := workerConfigFromSettings(cfg, "host-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(wc.Topics) != 1 || wc.Topics[0].Name != "orders" || wc.Topics[0].Retention != 24*time.Hour {
		t.Fatalf("topics %+v", wc.Topics)
	}
	billing, mailer := wc.Subscriptions[0], wc.Subscriptions[1]
	if billing.Name != "billing" || billing.Topic != "orders" || billing.MaxRetries != 5 || billing.Backoff[1] != 2*time.Second ||
		billing.Concurrency != 4 || len(billing.Filters) != 1 || billing.Filters[0].Operator != consumers.OpGreaterThan ||
		billing.Webhook.URL != "http://billing.local/hook" || billing.Webhook.Timeout != 3*time.Second {
		t.Fatalf("billing %+v", billing)
	}
	if !billing.Filters[0].Match([]byte(`{"amount":150}`)) || billing.Filters[0].Match([]byte(`{"amount":50}`)) {
		t.Fatal("filter from the file does not compare numbers")
	}
	if mailer.Stream != "EVENTS" || mailer.Mode != consumers.ModePubSub || mailer.Instance != "host-1" || mailer.MaxRetries != consumers.NoRetries {
		t.Fatalf("mailer %+v", mailer)
	}

	empty, _ := config.Decode("jetflow.tsk", []byte("[log]\nlevel: \"debug\"\n"), nil)
	if _, err := workerConfigFromSettings(empty, "h"); err == nil || !strings.Contains(err.Error(), "no [subscriptions.<name>]") {
		t.Fatalf("no subscriptions: %v", err)
	}
}

func TestLoadWorkerConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadWorkerConfig(strings.NewReader(`{
	  "topics": [{"name": "orders", "retention": "24h", "replicas": 1}],
	  "subscriptions": [{
	    "name": "billing", "topic": "orders", "subjects": ["order.*"],
	    "filters": [{"field": "amount", "operator": "greater_than", "value": 100}],
	    "max_retries": 0, "backoff": ["1s", "5s"], "concurrency": 4, "batch_size": 50,
	    "webhook": {"url": "http://billing:8080/hook", "timeout": "3s", "headers": {"Authorization": "Bearer x"}}
	  }],
	  "dlq": {"retention": "72h"},
	  "shutdown_grace": "10s"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Subscriptions[0]
	if cfg.Topics[0].Retention != 24*time.Hour || s.MaxRetries != consumers.NoRetries || s.Backoff[1] != 5*time.Second ||
		s.Concurrency != 4 || s.BatchSize != 50 || s.Webhook.Timeout != 3*time.Second || s.Webhook.Headers["Authorization"] != "Bearer x" ||
		s.Filters[0].Operator != consumers.OpGreaterThan || cfg.DLQ.Retention != 72*time.Hour || cfg.ShutdownGrace != 10*time.Second {
		t.Fatalf("config %+v", cfg)
	}
	if !s.Filters[0].Match([]byte(`{"amount":150}`)) || s.Filters[0].Match([]byte(`{"amount":50}`)) {
		t.Fatal("the filter from JSON does not compare numbers")
	}
	// Without max_retries the subscription keeps the library's default.
	cfg, err = loadWorkerConfig(strings.NewReader(`{"subscriptions": [{"name": "b", "topic": "orders", "webhook": {"url": "http://h/x"}}]}`))
	if err != nil || cfg.Subscriptions[0].MaxRetries != 0 {
		t.Fatalf("no max_retries: %+v %v", cfg.Subscriptions, err)
	}
}

func TestLoadWorkerConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, want string
	}{
		{"unknown key", `{"subscriptions": [{"name": "b", "topic": "orders", "typo": 1}]}`, `unknown field "typo"`},
		{"numeric duration", `{"subscriptions": [{"name": "b", "topic": "orders", "ack_wait": 5}]}`, `want a duration string such as "5s"`},
		{"bad duration", `{"shutdown_grace": "soon"}`, `invalid duration "soon"`},
		{"not JSON", `subscriptions: []`, "invalid character"},
		// A second document after the first, however invalid, was ignored.
		{"trailing data", `{"subscriptions":[{"name":"a","topic":"orders","webhook":{"url":"http://x/h"}}]}
{"subscriptions":[{"name":"b","topic":"orders","max_retries":"oops"}]}`, "data after the configuration object at byte 82"},
		{"invalid configuration", `{"subscriptions": [{"name": "b", "topic": "Orders"}]}`, "webhook url is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadWorkerConfig(strings.NewReader(tt.src))
			if !errors.Is(err, consumers.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want consumers.ErrInvalidConfig with %q", err, tt.want)
			}
		})
	}
}
