package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

// A worker started with a changed --subject is refused with the difference
// and changes nothing; --update-subscription applies it once no other
// worker runs the subscription.
func TestWorkerChangedSubscription(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	_, js := srv.JetStream(t)
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	args := func(subject string, extra ...string) []string {
		return append([]string{"--nats-url", srv.URL, "--topic", "orders", "--create-topic", "--name", "billing",
			"--subject", subject, "--webhook", hook.URL, "--log-level", "warn"}, extra...)
	}
	// start runs the command until its returned stop is called.
	start := func(a []string) (stop func() error, out *bytes.Buffer) {
		ctx, cancel := context.WithCancel(context.Background())
		cmd := newWorkerCmd()
		out = &bytes.Buffer{}
		cmd.SetOut(out)
		cmd.SetErr(out)
		cmd.SetArgs(a)
		done := make(chan error, 1)
		go func() { done <- cmd.ExecuteContext(ctx) }()
		stop = sync.OnceValue(func() error {
			cancel()
			select {
			case err := <-done:
				return err
			case <-time.After(20 * time.Second):
				return errors.New("worker did not stop")
			}
		})
		t.Cleanup(func() { _ = stop() })
		return stop, out
	}
	// attached waits until a worker pulls from billing-normal with filter suffix.
	attached := func(suffix string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := js.Consumer(context.Background(), "TOPIC_ORDERS", "billing-normal")
			if err == nil {
				info, err := c.Info(context.Background())
				if err == nil && info.NumWaiting > 0 && strings.HasSuffix(info.Config.FilterSubject, suffix) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no worker with filter *%s attached", suffix)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stopFirst, _ := start(args("order.*"))
	attached(".order.*")

	// A refused worker returns by itself; an accepted one would run until
	// the timeout and return nil.
	refused := func(a []string, want ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := newWorkerCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(a)
		err := cmd.ExecuteContext(ctx)
		if err == nil {
			t.Fatalf("%v: accepted", a)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q\n%s", a, err, w, out.String())
			}
		}
	}
	refused(args("zzz.*"), `filter: stored "order.*", asked "zzz.*"`, "--update-subscription")
	refused(args("zzz.*", "--update-subscription"), "in use", `filter: stored "order.*", asked "zzz.*"`)
	attached(".order.*")

	if err := stopFirst(); err != nil {
		t.Fatal(err)
	}
	stopUpdated, out := start(args("zzz.*", "--update-subscription"))
	attached(".zzz.*")
	if err := stopUpdated(); err != nil {
		t.Fatalf("updated worker: %v", err)
	}
	if !strings.Contains(out.String(), "subscription filter changed") {
		t.Errorf("the update was not logged:\n%s", out)
	}
}
