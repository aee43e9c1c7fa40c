package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
)

func TestWorkerFlags(t *testing.T) {
	t.Parallel()
	parse := func(args ...string) (consumers.WorkerConfig, error) {
		var (
			f          workerFlags
			configFile string
		)
		cmd := &cobra.Command{}
		f.register(cmd)
		cmd.Flags().StringVar(&configFile, "config", "", "the root's --config")
		if err := cmd.ParseFlags(args); err != nil {
			return consumers.WorkerConfig{}, err
		}
		file, err := f.subscriptionsFile(cmd, configFile)
		if err != nil {
			return consumers.WorkerConfig{}, err
		}
		return f.workerConfig(cmd, file, config.Default())
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
	cmd := newWorkerCmd(&loader{})
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
		cmd := newWorkerCmd(&loader{})
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
		cmd := newWorkerCmd(&loader{})
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

// `worker --config w.json`: the subscriptions come from the JSON file,
// where and how to connect from the flags or JETFLOW_NATS_* (the worker's
// service user), as for every command.
func TestWorkerJSONConfigAndCredentials(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("listen: 127.0.0.1:-1\nauthorization { user: jf, password: s3cret }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := natstest.RunServerWithConfig(t, natsserver.Config{ConfigFile: conf})
	js := jetstreamOf(t, srv.ClientURL())
	jsonFile := func(topic string) string {
		path := filepath.Join(dir, topic+".json")
		src := `{"topics": [{"name": "` + topic + `"}], "subscriptions": [{"name": "billing", "topic": "` + topic + `",
		  "webhook": {"url": "http://127.0.0.1:9/hook"}}], "shutdown_grace": "1s"}`
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// runs runs the worker until its topic's stream exists.
	runs := func(topic string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		root := NewRootCmd(nil)
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"worker", "--config", jsonFile(topic), "--nats-url", srv.ClientURL(), "--log-level", "error"}, args...))
		done := make(chan error, 1)
		go func() { done <- root.ExecuteContext(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := js.Stream(context.Background(), "TOPIC_"+strings.ToUpper(topic)); err == nil {
				break
			}
			select {
			case err := <-done:
				t.Fatalf("worker %q ended: %v\n%s", args, err, out.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("worker %q did not provision %s:\n%s", args, topic, out.String())
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("worker %q: %v\n%s", args, err, out.String())
		}
	}
	runs("byflags", "--nats-user", "jf", "--nats-password", "s3cret")

	t.Setenv("JETFLOW_NATS_USER", "jf")
	t.Setenv("JETFLOW_NATS_PASSWORD", "s3cret")
	runs("byenv")

	_, _, err := runRoot(t, "worker", "--config", jsonFile("refused"), "--nats-url", srv.ClientURL(), "--nats-password", "wrong")
	if err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Fatalf("wrong password: %v", err)
	}
}

func jetstreamOf(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, url, nats.UserInfo("jf", "s3cret")))
	if err != nil {
		t.Fatal(err)
	}
	return js
}
