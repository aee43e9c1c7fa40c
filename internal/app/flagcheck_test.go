package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/wire"
)

// runRoot runs `jetflow args…` as main does and returns stdout, stderr
// and the error.
func runRoot(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	root := NewRootCmd(nil)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// TestNumericFlagsOutOfRangeNameTheFlag: a negative or zero value used to
// mean something else without a word (--expected-version -5: no check,
// --max-retries -1: no retries, --concurrency 0: one, --timeout -1s: "cannot
// reach NATS"). Each is now an error naming the flag, before anything
// connects or runs, even with a server up.
func TestNumericFlagsOutOfRangeNameTheFlag(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	url := []string{"--nats-url", srv.URL}
	worker := []string{"worker", "--nats-url", srv.URL, "--topic", "orders", "--name", "billing", "--webhook", "http://127.0.0.1:9/hook"}
	with := func(base []string, more ...string) []string { return append(append([]string(nil), base...), more...) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{with(url, "send", "user.create", `{}`, "--expected-version", "-5"), "--expected-version must be 0 or more, got -5"},
		{with(url, "send", "user.create", `{}`, "--timeout", "-1s"), "--timeout must be positive, got -1s"},
		{with(url, "query", "users.list", "--timeout", "0s"), "--timeout must be positive, got 0s"},
		{with(url, "events", "user", "u1", "--timeout", "-1s"), "--timeout must be positive, got -1s"},
		{with(url, "publish", "orders", `{}`, "--timeout", "-1ms"), "--timeout must be positive, got -1ms"},
		{with(url, "dlq", "list", "--limit", "-1"), "--limit must be 0 or more, got -1"},
		{with(url, "dlq", "replay", "--all", "x", "--limit", "-3"), "--limit must be 0 or more, got -3"},
		{with(url, "projections", "status", "--timeout", "-2s"), "--timeout must be positive, got -2s"},
		{with(url, "projections", "rebuild", "users", "--max-duration", "-5s"), "--max-duration must be at least 0s, got -5s"},
		{with(worker, "--max-retries", "-1"), "--max-retries must be 0 to 1000, got -1"},
		{with(worker, "--concurrency", "0"), "--concurrency must be 1 to 4096, got 0"},
		{with(worker, "--batch", "-4"), "--batch must be 1 to 100000, got -4"},
		{with(worker, "--replicas", "0"), "--replicas must be 1 to 5, got 0"},
		{with(worker, "--ack-wait", "500ms"), "--ack-wait must be at least 1s, got 500ms"},
		{with(worker, "--retention", "-1h", "--create-topic"), "--retention must be at least 1s, got -1h0m0s"},
		{with(worker, "--webhook-timeout", "0s"), "--webhook-timeout must be positive, got 0s"},
		{with(worker, "--shutdown-grace", "0s"), "--shutdown-grace must be positive, got 0s"},
		{with(worker, "--backoff", "1s,-5s"), "--backoff must be positive, got -5s (element 2)"},
		{with(worker, "--timeout", "-1s"), "--timeout must be positive, got -1s"},
		{[]string{"bench", "--duration", "0s"}, "--duration must be positive, got 0s"},
		{[]string{"bench", "--count", "-1"}, "--count must be 0 or more, got -1"},
		{[]string{"bench", "--replicas", "2"}, "--replicas must be 1 (one server) or 3 (a 3-node cluster), got 2"},
		{[]string{"chaos", "--runs", "0"}, "--runs must be 1 to 1000, got 0"},
		{[]string{"chaos", "--clients", "0"}, "--clients must be 1 to 1024, got 0"},
		{[]string{"chaos", "--rate", "-1"}, "--rate must be 0 or more, got -1"},
		{[]string{"chaos", "--down", "0s"}, "--down must be at least 100ms, got 0s"},
		{[]string{"chaos", "--duration", "500ms"}, "--duration must be at least 1s, got 500ms"},
	} {
		t.Run(strings.Join(tc.args[2:], " "), func(t *testing.T) {
			t.Parallel()
			_, stderr, err := runRoot(t, tc.args...)
			if !errors.Is(err, errFlagValue) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (stderr %q), want one matching errFlagValue saying %q", err, stderr, tc.want)
			}
		})
	}
	// Every problem at once.
	_, _, err := runRoot(t, with(worker, "--max-retries", "-1", "--concurrency", "0")...)
	if err == nil || !strings.Contains(err.Error(), "--max-retries") || !strings.Contains(err.Error(), "--concurrency") {
		t.Fatalf("two bad flags: %v, want both named", err)
	}
	// A negative --after is refused by the flag parser, naming the flag.
	if _, _, err := runRoot(t, with(url, "events", "user", "u1", "--after", "-1")...); err == nil || !strings.Contains(err.Error(), `"--after"`) {
		t.Fatalf("--after -1: %v", err)
	}
}

// TestSendExpectedVersionOnlyWhenGiven: without --expected-version no
// Jetflow-Expected-Version goes out (no check); --expected-version 0 sends
// 0 (the aggregate must be new).
func TestSendExpectedVersionOnlyWhenGiven(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	got := make(chan nats.Header, 2)
	if _, err := nc.Subscribe("cmd.user.create", func(m *nats.Msg) {
		got <- m.Header
		_ = m.Respond([]byte(`{"aggregate_id":"u1","version":1,"sequence":1}`))
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args       []string
		want       string
		wantHeader bool
	}{
		{nil, "", false},
		{[]string{"--expected-version", "0"}, "0", true},
		{[]string{"--expected-version", "7"}, "7", true},
	} {
		args := append([]string{"send", "user.create", `{}`, "--nats-url", srv.URL}, tc.args...)
		if _, stderr, err := runRoot(t, args...); err != nil {
			t.Fatalf("%v: %v %s", tc.args, err, stderr)
		}
		h := <-got
		if v, ok := h[wire.HeaderExpectedVersion]; ok != tc.wantHeader || (ok && v[0] != tc.want) {
			t.Errorf("%v: header %v, want present=%v %q", tc.args, v, tc.wantHeader, tc.want)
		}
	}
}

// TestEmptyNATSURLIsRefusedWhereItIsNeeded: nats.url "" passed `config
// check`, then every client command failed with "cannot reach NATS at  (is
// `jetflow serve` running?)". config check and the client commands now
// refuse it naming the key; --nats-url "" names the flag. (serve with the
// embedded server does not read it: internal/config's tests.)
func TestEmptyNATSURLIsRefusedWhereItIsNeeded(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	file := filepath.Join(t.TempDir(), "jetflow.tsk")
	if err := os.WriteFile(file, []byte("[nats]\nurl: \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"config", "check", file},
		{"send", "user.create", `{}`, "--config", file},
		{"query", "users.list", "--config", file},
		{"events", "user", "u1", "--config", file},
		{"publish", "orders", `{}`, "--config", file},
		{"dlq", "list", "--config", file},
	} {
		_, _, err := runRoot(t, args...)
		if err == nil || !strings.Contains(err.Error(), "nats.url: empty") || strings.Contains(err.Error(), "cannot reach") {
			t.Errorf("%s: %v, want one about the empty nats.url", strings.Join(args[:2], " "), err)
		}
	}
	_, _, err := runRoot(t, "send", "user.create", `{}`, "--nats-url", "")
	if !errors.Is(err, errFlagValue) || !strings.Contains(err.Error(), "--nats-url must be a NATS URL") {
		t.Errorf("--nats-url \"\": %v", err)
	}
	// --nats-url still wins over the empty nats.url.
	if _, _, err := runRoot(t, "events", "user", "u1", "--config", file, "--nats-url", srv.URL); err != nil && strings.Contains(err.Error(), "nats.url") {
		t.Errorf("--nats-url over an empty nats.url: %v", err)
	}
}
