package app

import (
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
