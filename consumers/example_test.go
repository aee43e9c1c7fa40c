package consumers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/jetflowtest"
)

// A topic, a subscription with a payload filter, and a publish.
func Example() {
	// An embedded JetStream server; a program connects to its own NATS.
	srv, err := jetflowtest.StartServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()

	if _, err := consumers.EnsureTopic(ctx, js, consumers.TopicConfig{Name: "orders"}); err != nil {
		fmt.Println(err)
		return
	}
	handled := make(chan string, 1)
	w, err := consumers.NewWorker(js, consumers.Subscription{
		Name:    "big-orders",
		Topic:   "orders",
		Filters: []consumers.Filter{{Field: "amount", Operator: consumers.OpGreaterThan, Value: 100}},
		Handler: func(_ context.Context, m *consumers.Message) error {
			handled <- fmt.Sprintf("%s %s %s", m.Key(), m.Priority(), m.Data())
			return nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer w.Stop(ctx)

	pub := consumers.NewPublisher(js)
	for _, amount := range []int{50, 500} {
		_, err := pub.Publish(ctx, "orders", consumers.Outgoing{
			Key:      "order.created",
			Data:     fmt.Appendf(nil, `{"amount":%d}`, amount),
			Priority: consumers.PriorityHigh,
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	select {
	case h := <-handled:
		fmt.Println(h)
	case <-time.After(5 * time.Second):
		fmt.Println("timeout")
	}
	// Output: order.created high {"amount":500}
}

// A webhook receiver checks each call's Standard Webhooks signature before
// it trusts the body: the worker signs with the subscription's
// webhook_secret (WebhookConfig.Secret), and the receiver holds the same.
func ExampleVerifyWebhook() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // the subscription's webhook_secret
	// VerifyWebhook(secret, header, body) checks against the clock; this
	// example replays the spec's own sample call, so it sets the clock to
	// the call's time.
	verifier := consumers.WebhookVerifier{Secret: secret, Now: func() time.Time { return time.Unix(1614265330, 0) }}
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := verifier.Verify(r.Header, body); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized) // 4xx: the worker dead-letters it
			return
		}
		// webhook-id is the same on every retry of one delivery: a
		// receiver that has handled it answers 2xx and does nothing.
		fmt.Println("verified", r.Header.Get(consumers.WebhookHeaderID), string(body))
	})

	call := func(body string) int {
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(body))
		req.Header.Set(consumers.WebhookHeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
		req.Header.Set(consumers.WebhookHeaderTimestamp, "1614265330")
		req.Header.Set(consumers.WebhookHeaderSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
		rec := httptest.NewRecorder()
		hook.ServeHTTP(rec, req)
		return rec.Code
	}
	fmt.Println(call(`{"test": 2432232314}`))
	fmt.Println(call(`{"test": 1}`)) // the body was changed on the way
	// Output:
	// verified msg_p5jXN8AQM9LWM0D4loKWxJek {"test": 2432232314}
	// 200
	// 401
}
