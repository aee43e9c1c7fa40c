package app

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
)

// `jetflow worker --config prod.tsk`: the [nats] section of the file it was
// given says where to connect (nats.url: "used by serve and worker when
// server.embedded is false"), not ./jetflow.tsk or the built-in default.
func TestWorkerConnectsWhereItsConfigFileSays(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	_, js := srv.JetStream(t)
	file := filepath.Join(t.TempDir(), "prod.tsk")
	src := fmt.Sprintf(`
[nats]
url: %q

[server]
embedded: false

[topics.orders]

[subscriptions.billing]
topic: "orders"
webhook_url: "http://127.0.0.1:9/hook"
`, srv.URL)
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := NewRootCmd(nil)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"worker", "--config", file, "--log-level", "error"})
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		t.Fatalf("worker --config %s: %v\n%s", filepath.Base(file), err, out.String())
	}
	if _, err := js.Stream(context.Background(), "TOPIC_ORDERS"); err != nil {
		t.Fatalf("the worker did not provision the file's topic on the file's server: %v", err)
	}
}

// --timeout bounds a client command's wait: one whose
// server does not answer must give up after it, not after JetStream's
// built-in 5 s.
func TestClientTimeoutFlagBoundsTheWait(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	// Something receives the requests and never answers them.
	for _, subj := range []string{"topic.orders.>", "$JS.API.DIRECT.GET.EVENTS.>", "$JS.API.DIRECT.GET.EVENTS"} {
		if _, err := nc.Subscribe(subj, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"publish", "orders", `{"id":1}`, "--nats-url", srv.URL, "--timeout", "500ms"},
		{"events", "user", "u-1", "--nats-url", srv.URL, "--timeout", "500ms"},
	} {
		root := NewRootCmd(nil)
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		start := time.Now()
		err := root.ExecuteContext(context.Background())
		took := time.Since(start)
		if err == nil {
			t.Errorf("%s: no error", args[0])
		}
		if took > 2*time.Second {
			t.Errorf("%s --timeout 500ms: gave up after %s (%v)", args[0], took.Round(100*time.Millisecond), err)
		}
	}
}

// clientFlags.targetFor: "--nats-url wins over nats.url, and the [nats]
// credentials apply". `jetflow projections status --config prod.tsk
// --nats-url URL` must log in with prod.tsk's nats.user/nats.password.
func TestNATSURLFlagKeepsConfigCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("listen: 127.0.0.1:-1\nauthorization { user: jf, password: s3cret }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := natstest.RunServerWithConfig(t, natsserver.Config{ConfigFile: conf})
	tsk := filepath.Join(dir, "prod.tsk")
	if err := os.WriteFile(tsk, []byte("[nats]\nuser: \"jf\"\npassword: \"s3cret\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := NewRootCmd(nil)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"projections", "status", "--config", tsk, "--nats-url", srv.ClientURL(), "--json"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("projections status --config prod.tsk --nats-url: %v", err)
	}
	// Wrong credentials are named as such, not as a server that is down.
	bad := filepath.Join(dir, "bad.tsk")
	if err := os.WriteFile(bad, []byte("[nats]\nuser: \"jf\"\npassword: \"wrong\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root = NewRootCmd(nil)
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"projections", "status", "--config", bad, "--nats-url", srv.ClientURL()})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "refused the credentials") {
		t.Fatalf("wrong password: %v", err)
	}
}

// Client commands take the layout from the configuration they read (here
// --config): the command and query prefixes, the event stream and the DLQ
// stream, unless their own flags say otherwise.
func TestClientCommandsUseTheConfiguredLayout(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	for _, subj := range []string{"mycmd.user.create", "myq.users.list"} {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) { _ = m.Respond([]byte(`{"via":"` + m.Subject + `"}`)) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	tsk := filepath.Join(t.TempDir(), "layout.tsk")
	src := fmt.Sprintf("[nats]\nurl: %q\n\n[commands]\nsubject_prefix: \"mycmd\"\n\n[queries]\nsubject_prefix: \"myq\"\n\n[dlq]\nstream: \"MYDLQ\"\n", srv.URL)
	if err := os.WriteFile(tsk, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		root := NewRootCmd(nil)
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append(args, "--config", tsk))
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	if out, err := run("send", "user.create", `{}`); err != nil || !strings.Contains(out, "mycmd.user.create") {
		t.Fatalf("send: %q %v", out, err)
	}
	if out, err := run("query", "users.list"); err != nil || !strings.Contains(out, "myq.users.list") {
		t.Fatalf("query: %q %v", out, err)
	}
	if _, err := run("dlq", "list"); err == nil || !strings.Contains(err.Error(), "MYDLQ") {
		t.Fatalf("dlq list on the configured stream: %v", err)
	}
	// A layout that would make bad subjects is refused, naming the key.
	bad := filepath.Join(t.TempDir(), "bad.tsk")
	if err := os.WriteFile(bad, []byte("[commands]\nsubject_prefix: \"my cmd\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := NewRootCmd(nil)
	root.SetOut(new(bytes.Buffer))
	root.SetErr(new(bytes.Buffer))
	root.SetArgs([]string{"send", "user.create", `{}`, "--config", bad})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "commands.subject_prefix") {
		t.Fatalf("send with a bad prefix in the configuration: %v", err)
	}
	// A flag still wins.
	if out, err := run("query", "users.list", "--prefix", "nowhere"); err == nil {
		t.Fatalf("query --prefix nowhere answered: %q", out)
	}
}
