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
