package consumers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoadWorkerConfig(t *testing.T) {
	t.Parallel()
	cfg, err := LoadWorkerConfig(strings.NewReader(`{
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
	if cfg.Topics[0].Retention != 24*time.Hour || s.MaxRetries != NoRetries || s.Backoff[1] != 5*time.Second ||
		s.Concurrency != 4 || s.Webhook.Timeout != 3*time.Second || s.Filters[0].Operator != OpGreaterThan ||
		cfg.DLQ.Retention != 72*time.Hour || cfg.ShutdownGrace != 10*time.Second {
		t.Fatalf("config %+v", cfg)
	}
	_, err = LoadWorkerConfig(strings.NewReader(`{"subscriptions": [{"name": "b", "topic": "orders", "typo": 1}]}`))
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "typo") {
		t.Fatalf("unknown key: %v", err)
	}
	_, err = LoadWorkerConfig(strings.NewReader(`{"subscriptions": [{"name": "b", "topic": "orders", "ack_wait": 5}]}`))
	if err == nil || !strings.Contains(err.Error(), "duration") {
		t.Fatalf("numeric duration: %v", err)
	}
}

func TestWorkerConfigValidateJoinsEveryProblem(t *testing.T) {
	t.Parallel()
	err := WorkerConfig{
		Topics: []TopicConfig{{Name: "orders"}, {Name: "orders"}},
		Subscriptions: []SubscriptionConfig{
			{Subscription: Subscription{Name: "a", Topic: "orders"}, Webhook: WebhookConfig{URL: "http://x"}},
			{Subscription: Subscription{Name: "a", Topic: "orders"}, Webhook: WebhookConfig{URL: "http://x"}},
			{Subscription: Subscription{Name: "", Topic: "orders"}},
		},
		DLQ:           DLQConfig{Replicas: 7},
		ShutdownGrace: -1,
	}.Validate()
	for _, want := range []string{"topic \"orders\" defined twice", "\"a\" defined twice", "subscriptions[2]", "webhook url is required",
		"dlq replicas", "shutdown grace"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if err := (WorkerConfig{}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("empty config: %v", err)
	}
}

func TestRunWorkers(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
	}))
	defer hook.Close()
	e := newTestEnv(t)
	cfg := WorkerConfig{
		Topics: []TopicConfig{{Name: "orders"}},
		Subscriptions: []SubscriptionConfig{{
			Subscription: Subscription{Name: "billing", Topic: "orders"},
			Webhook:      WebhookConfig{URL: hook.URL},
		}},
		ShutdownGrace: 5 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunWorkers(ctx, e.js, cfg) }()
	waitFor(t, 5*time.Second, "the topic", func() bool {
		_, err := e.js.Stream(testCtx(t), "TOPIC_ORDERS")
		return err == nil
	})
	waitFor(t, 5*time.Second, "the delivery", func() bool {
		if _, err := e.pub.Publish(testCtx(t), "orders", Outgoing{Data: []byte(`{"x":1}`), MsgID: "once"}); err != nil {
			t.Fatal(err)
		}
		v, _ := got.Load().(string)
		return v == `{"x":1}`
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunWorkers did not return after cancel")
	}
}

// LoadWorkerConfig ignores whatever follows the first JSON document.
func TestLoadWorkerConfigRefusesTrailingData(t *testing.T) {
	t.Parallel()
	src := `{"subscriptions":[{"name":"a","topic":"orders","webhook":{"url":"http://x/h"}}]}
{"subscriptions":[{"name":"b","topic":"orders","max_retries":"oops"}]}`
	if _, err := LoadWorkerConfig(strings.NewReader(src)); err == nil {
		t.Fatal("a config with a second, invalid document after the first was accepted")
	}
}
