package jetflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/wire"
)

// serve without users may not listen beyond loopback: anyone reaching it
// could write events, delete EVENTS, purge the DLQ. ":4222" is every
// interface too. It refuses before it starts anything, naming the opt-out.
func TestServeRefusesAnonymousClientsOnTheNetwork(t *testing.T) {
	t.Parallel()
	for _, listen := range []string{"0.0.0.0:0", ":0"} {
		app := jetflow.New()
		users.Register(app)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := app.Run(ctx, jetflow.WithConfigFile(""), jetflow.WithSetting("server.listen", listen),
			jetflow.WithSetting("server.store_dir", t.TempDir()), jetflow.WithSetting("metrics.listen", ""))
		cancel()
		if !errors.Is(err, natsserver.ErrAnonymousNetwork) || !strings.Contains(err.Error(), "server.insecure_allow_anonymous") {
			t.Fatalf("listen %s: %v, want a refusal naming server.insecure_allow_anonymous", listen, err)
		}
	}
}

// syncBuffer is a log destination tests read while serve writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The start-up log says how the platform is protected, and a domain's
// AuthorizeCommands refuses what it must with a 403.
func TestServeSaysItsSecurityModeAndAuthorizes(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	app := jetflow.New()
	users.Register(app)
	app.AuthorizeCommands(func(_ context.Context, a aggregates.Authorization) error {
		if a.Command == "user.change_status" && a.Caller.UserID != "admin" {
			return aggregates.Forbidden("only an admin may change a user's status")
		}
		return nil
	})
	app.AuthorizeQueries(func(_ context.Context, a projections.QueryAuthorization) error {
		if a.ReadModel == "users" && a.Query == "list" && a.Caller.UserID != "admin" {
			return projections.Forbidden("only an admin may list users")
		}
		return nil
	})
	started := serveUsersOn(t, app, jetflow.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	out := logs.String()
	for _, want := range []string{`msg=security`, `nats=embedded`, `nats_auth="none: anonymous clients"`, `identity="header: user ids as clients send them (unverified)"`} {
		if !strings.Contains(out, want) {
			t.Errorf("start-up log lacks %s:\n%s", want, out)
		}
	}
	nc, err := nats.Connect(started.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c := client.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Send(ctx, "user.create", users.Create{Username: "alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]string{"id": r.AggregateID, "status": "suspended"}
	_, err = c.Send(ctx, "user.change_status", body, client.UserID("mallory"))
	var we *wire.Error
	if !errors.Is(err, wire.ErrForbidden) || !errors.As(err, &we) || we.Message != "only an admin may change a user's status" {
		t.Fatalf("mallory: %v, want a 403", err)
	}
	if _, err := c.Send(ctx, "user.change_status", body, client.UserID("admin")); err != nil {
		t.Fatalf("admin: %v", err)
	}
	// And AuthorizeQueries refuses a query the same way.
	var list json.RawMessage
	if _, err := c.Query(ctx, "users.list", nil, &list, client.UserID("mallory")); !errors.Is(err, wire.ErrForbidden) ||
		!errors.As(err, &we) || we.Message != "only an admin may list users" {
		t.Fatalf("users.list as mallory: %v, want a 403", err)
	}
	if _, err := c.Query(ctx, "users.list", nil, &list, client.UserID("admin")); err != nil || !strings.Contains(string(list), `"items":[`) {
		t.Fatalf("users.list as admin: %v %s", err, list)
	}
}

// serveUsersOn is serveUsers with an App the test registered.
func serveUsersOn(t *testing.T, app *jetflow.App, settings ...jetflow.RunOption) jetflow.Started {
	t.Helper()
	ready := make(chan jetflow.Started, 1)
	opts := append([]jetflow.RunOption{
		jetflow.WithConfigFile(""),
		jetflow.WithSetting("server.listen", "127.0.0.1:-1"),
		jetflow.WithSetting("server.store_dir", t.TempDir()),
		jetflow.WithSetting("metrics.listen", ""),
		jetflow.OnReady(func(s jetflow.Started) { ready <- s }),
	}, settings...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, opts...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case s := <-ready:
		return s
	case err := <-done:
		done <- err
		t.Fatalf("run ended before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("not ready after 60s")
	}
	return jetflow.Started{}
}
