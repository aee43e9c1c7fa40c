package aggregates_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// accountsConf puts the command service in account SVC and its callers in
// APP (imports cmd.> sharing the caller's user) and APP2 (imports it
// without sharing); insider is a second user of the service's own account.
const accountsConf = `
listen: 127.0.0.1:-1
accounts {
  SVC {
    jetstream: enabled
    users = [{user: svc, password: svc-pw}, {user: insider, password: insider-pw}]
    exports = [{service: "cmd.>"}]
  }
  APP {
    users = [{user: alice, password: alice-pw}, {user: admin, password: admin-pw}]
    imports = [{service: {account: SVC, subject: "cmd.>"}, share: true}]
  }
  APP2 {
    users = [{user: bob, password: bob-pw}]
    imports = [{service: {account: SVC, subject: "cmd.>"}}]
  }
}
`

// identityService starts the counter's command service as svc on a server
// with accountsConf, with opts and spec's Authorize; it returns the URL
// and the store.
func identityService(t *testing.T, cfg aggregates.ServiceConfig, authorize func(context.Context, aggregates.Caller, *add) error,
	opts ...aggregates.ServiceOption) (string, *streams.Store) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(accountsConf), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := natstest.RunServerWithConfig(t, natsserver.Config{ConfigFile: conf})
	nc := srv.Connect(t, nats.UserInfo("svc", "svc-pw"))
	return srv.URL, counterService(t, nc, cfg, authorize, opts...)
}

func counterService(t *testing.T, nc *nats.Conn, cfg aggregates.ServiceConfig, authorize func(context.Context, aggregates.Caller, *add) error,
	opts ...aggregates.ServiceOption) *streams.Store {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	scfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, scfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, scfg)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := aggregates.NewRepository("counter", func() *counter { return &counter{} }, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 2 * time.Second
	svc, err := aggregates.NewService(nc, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := aggregates.Register(svc, repo, aggregates.CommandSpec[*counter, add]{
		Name: "add", AggregateID: func(c *add) string { return c.ID }, Authorize: authorize,
		Decide: func(c add, _ *aggregates.Instance[*counter]) ([]aggregates.Change, error) {
			return []aggregates.Change{{Type: "counter.added", Data: map[string]int{"by": c.By}}}, nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	return store
}

// sendAs sends cmd.counter.add as user, claiming to be claimed and, from
// another account than the service's, with a forged Nats-Request-Info;
// it returns the reply's error (nil on success).
func sendAs(t *testing.T, url, user, password, id, claimed string) *wire.Error {
	t.Helper()
	nc := natstest.Connect(t, url, nats.UserInfo(user, password), nats.Name("conn-"+user))
	msg := nats.NewMsg("cmd.counter.add")
	msg.Data = []byte(`{"id":"` + id + `","by":1}`)
	msg.Header.Set(wire.HeaderUserID, claimed)
	if user != "insider" {
		msg.Header.Set(wire.HeaderRequestInfo, `{"acc":"SVC","user":"root"}`)
	}
	resp, err := nc.RequestMsg(msg, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: request: %v", user, err)
	}
	return wire.ParseErrorReply(resp)
}

func recordedUser(t *testing.T, store *streams.Store, id string) string {
	t.Helper()
	evs := loadAll(t, store, id)
	if len(evs) != 1 {
		t.Fatalf("events of %s: %v", id, evs)
	}
	return evs[0].Metadata.UserID
}

// On a server with authentication the service takes the user id from what
// the server stamps on a request that crossed accounts, never from the
// client's Jetflow-User-Id or a forged Nats-Request-Info.
func TestUserIDComesFromNATS(t *testing.T) {
	t.Parallel()
	url, store := identityService(t, aggregates.ServiceConfig{}, nil)
	for _, tc := range []struct{ user, password, id, want string }{
		{"alice", "alice-pw", "a1", "alice"}, // import with share: true names the user
		{"bob", "bob-pw", "b1", "APP2"},      // without share only the account is known
		// The service's own account: as trusted as the service (it may write
		// events itself, and a Nats-Request-Info too), so its
		// Jetflow-User-Id stands.
		{"insider", "insider-pw", "i1", "security-admin@corp"},
	} {
		if e := sendAs(t, url, tc.user, tc.password, tc.id, "security-admin@corp"); e != nil {
			t.Fatalf("%s: %v", tc.user, e)
		}
		if got := recordedUser(t, store, tc.id); got != tc.want {
			t.Errorf("%s: event records user %q, want %q", tc.user, got, tc.want)
		}
	}
}

// IdentityHeader keeps the old behaviour on purpose: the client's header.
func TestIdentityHeaderModeTakesTheClaim(t *testing.T) {
	t.Parallel()
	url, store := identityService(t, aggregates.ServiceConfig{Identity: aggregates.IdentityHeader}, nil)
	if e := sendAs(t, url, "alice", "alice-pw", "h1", "someone"); e != nil {
		t.Fatal(e)
	}
	if got := recordedUser(t, store, "h1"); got != "someone" {
		t.Fatalf("recorded %q", got)
	}
}

// Without authentication there is nothing to verify: the claim is taken.
func TestIdentityAutoWithoutAuthenticationTakesTheClaim(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	store := counterService(t, nc, aggregates.ServiceConfig{}, nil)
	msg := nats.NewMsg("cmd.counter.add")
	msg.Data = []byte(`{"id":"n1","by":1}`)
	msg.Header.Set(wire.HeaderUserID, "u-9")
	resp, err := srv.Connect(t).RequestMsg(msg, 5*time.Second)
	if err != nil || wire.ParseErrorReply(resp) != nil {
		t.Fatalf("%v %v", err, resp)
	}
	if got := recordedUser(t, store, "n1"); got != "u-9" {
		t.Fatalf("recorded %q", got)
	}
}

// A command's Authorize and the service's authorizer see the verified
// caller; a refusal is a 403 that writes nothing.
func TestAuthorizeRefusesWith403(t *testing.T) {
	t.Parallel()
	var seen []aggregates.Authorization
	onlySelfOrAdmin := func(_ context.Context, c aggregates.Caller, cmd *add) error {
		if c.UserID != cmd.ID && c.UserID != "admin" {
			return aggregates.Forbidden("%s may not change %s", c.UserID, cmd.ID)
		}
		return nil
	}
	url, store := identityService(t, aggregates.ServiceConfig{}, onlySelfOrAdmin,
		aggregates.WithAuthorizer(func(_ context.Context, a aggregates.Authorization) error {
			seen = append(seen, a)
			if a.Caller.Account == "APP2" {
				return errors.New("no reason given")
			}
			return nil
		}))
	if e := sendAs(t, url, "alice", "alice-pw", "alice", "admin"); e != nil {
		t.Fatalf("alice on herself: %v", e)
	}
	if e := sendAs(t, url, "admin", "admin-pw", "alice", ""); e != nil {
		t.Fatalf("admin on alice: %v", e)
	}
	e := sendAs(t, url, "alice", "alice-pw", "carol", "admin") // claims admin: not believed
	if e == nil || e.Status != wire.StatusForbidden || e.Code != wire.CodeForbidden || !errors.Is(e, wire.ErrForbidden) {
		t.Fatalf("alice on carol: %v, want a 403", e)
	}
	if e.Message != "alice may not change carol" {
		t.Fatalf("message %q", e.Message)
	}
	// An authorizer's error that is no Forbidden is a 403 too, without its text.
	if e := sendAs(t, url, "bob", "bob-pw", "APP2", ""); e == nil || e.Status != wire.StatusForbidden || e.Message != "forbidden" {
		t.Fatalf("bob: %v, want a plain 403", e)
	}
	if evs := loadAll(t, store, "carol"); len(evs) != 0 {
		t.Fatalf("refused command wrote %v", evs)
	}
	if len(seen) == 0 || seen[0].Command != "counter.add" || seen[0].AggregateID != "alice" || !seen[0].Caller.Verified ||
		seen[0].Caller.User != "alice" || seen[0].Caller.Claimed != "admin" {
		t.Fatalf("authorizer saw %+v", seen)
	}
}

func loadAll(t *testing.T, store *streams.Store, id string) []streams.Event {
	t.Helper()
	var evs []streams.Event
	for ev, err := range store.Load(context.Background(), "counter", id, 0) {
		if err != nil {
			t.Fatalf("load %s: %v", id, err)
		}
		evs = append(evs, ev)
	}
	return evs
}
