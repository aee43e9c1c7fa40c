package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/natstest"
)

func TestWorkerFlags(t *testing.T) {
	t.Parallel()
	parse := func(args ...string) (consumers.WorkerConfig, error) {
		var f workerFlags
		cmd := &cobra.Command{}
		f.register(cmd)
		if err := cmd.ParseFlags(args); err != nil {
			return consumers.WorkerConfig{}, err
		}
		return f.workerConfig(cmd)
	}
	cfg, err := parse("--topic", "orders", "--name", "billing", "--webhook", "http://h/x", "--filter", "amount greater_than 100",
		"--subject", "order.*", "--max-retries", "0", "--backoff", "1s,2s", "--webhook-header", "Authorization: Bearer t",
		"--create-topic", "--retention", "24h")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Subscriptions[0]
	if s.Name != "billing" || s.MaxRetries != consumers.NoRetries || len(s.Filters) != 1 || s.Backoff[1] != 2*time.Second ||
		s.Webhook.Headers["Authorization"] != "Bearer t" || cfg.Topics[0].Retention != 24*time.Hour || s.Subjects[0] != "order.*" {
		t.Fatalf("config %+v", cfg)
	}
	_, err = parse("--topic", "Orders", "--filter", "amount bigger 1", "--webhook-header", "nocolon")
	for _, want := range []string{"--filter", "--webhook-header", "Orders", "subscription name", "webhook url"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if _, err := parse("--config", "w.json", "--topic", "orders"); err == nil || !strings.Contains(err.Error(), "--topic cannot be combined with --config") {
		t.Errorf("--config with --topic: %v", err)
	}
}

// TestWorkerCommand runs `jetflow worker` against a server and a webhook
// until its context ends.
func TestWorkerCommand(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	_, js := srv.JetStream(t)
	got := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Header.Get("Authorization") + " " + string(b)
	}))
	defer hook.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newWorkerCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--nats-url", srv.URL, "--topic", "orders", "--create-topic", "--name", "billing",
		"--webhook", hook.URL, "--webhook-header", "Authorization: Bearer t", "--log-level", "warn"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	pub := consumers.NewPublisher(js)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := pub.Publish(ctx, "orders", consumers.Outgoing{Data: []byte(`{"n":1}`), MsgID: "one"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic never appeared: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case s := <-got:
		if s != `Bearer t {"n":1}` {
			t.Fatalf("webhook got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("webhook not called; output:\n%s", out.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("worker: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop")
	}
}
