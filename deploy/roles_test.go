package deploy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/streams"
)

// Every runtime user is refused stream removal and purges: deny_delete and
// deny_purge on EVENTS stop message deletes, not `nats stream rm EVENTS`.
var runtimeDenied = []string{
	"$JS.API.STREAM.DELETE.EVENTS",
	"$JS.API.STREAM.DELETE.DLQ",
	"$JS.API.STREAM.DELETE.KV_jetflow_snapshots",
	"$JS.API.STREAM.PURGE.EVENTS",
	"$JS.API.STREAM.PURGE.DLQ",
	"$JS.SNAPSHOT.ACK.EVENTS.x", // backups are the admin's
}

// expectDenied publishes to each subject as one connection and waits for
// the server's violation of each.
func expectDenied(t *testing.T, url, user, password string, subjects []string) {
	t.Helper()
	nc, perms := connectAs(t, url, user, password, nats.CustomInboxPrefix(serviceInboxPrefix))
	for _, subject := range subjects {
		if err := nc.Publish(subject, []byte("{}")); err != nil {
			t.Fatalf("%s: publish %s: %v", user, subject, err)
		}
		expectViolation(t, perms, `Publish to "`+subject+`"`)
	}
}

// jetflow serve runs as "jetflow": events, its services, the JetStream
// calls it makes; no stream removal, purge or backup.
func TestServeUserRole(t *testing.T) {
	t.Parallel()
	s := startServer(t, loadNATSConf(t))
	node := startNode(t, s.ClientURL(), 1) // provisions and serves with no violation, or fails
	client, _ := connectAs(t, s.ClientURL(), clientUser, clientPassword)
	if _, err := createUser(client, "served"); err != nil {
		t.Fatal(err)
	}
	expectDenied(t, s.ClientURL(), serviceUser, servicePassword, runtimeDenied)
	if _, err := node.JS.Stream(testContext(t), streams.DefaultEventStream); err != nil {
		t.Fatalf("EVENTS after the refused removal: %v", err)
	}
}

// jetflow worker runs as "worker": it consumes EVENTS and topics and POSTs
// to webhooks, so it gets no event, topic or command publish, no KV, no
// stream update, removal or purge.
func TestWorkerUserRole(t *testing.T) {
	t.Parallel()
	s := startServer(t, loadNATSConf(t))
	url := s.ClientURL()
	startNode(t, url, 1)

	var mu sync.Mutex
	var posted []string
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, string(b))
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	nc, perms := connectAs(t, url, workerUser, workerPassword, nats.CustomInboxPrefix(serviceInboxPrefix))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- consumers.RunWorkers(ctx, js, consumers.WorkerConfig{Subscriptions: []consumers.SubscriptionConfig{{
			Subscription: consumers.Subscription{Name: "audit", Stream: streams.DefaultEventStream, Subjects: []string{"events.user.>"}},
			Webhook:      consumers.WebhookConfig{URL: hook.URL},
		}}})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	client, _ := connectAs(t, url, clientUser, clientPassword)
	if _, err := createUser(client, "audited"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(posted)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker POSTed nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	expectNoViolation(t, perms)
	expectDenied(t, url, workerUser, workerPassword, append([]string{
		"events.user.forged", "topic.orders.normal.x", "cmd.user.create", "query.users.get",
		"$KV.jetflow_snapshots.user.x", "$JS.API.STREAM.UPDATE.EVENTS", "$JS.API.STREAM.MSG.DELETE.EVENTS",
	}, runtimeDenied...))
}

// The admin is for a person at a terminal: backups (TestBackupAndRestoreAsAdmin),
// stream removal; never the services' subjects, nor events.
func TestAdminUserRole(t *testing.T) {
	t.Parallel()
	s := startServer(t, loadNATSConf(t))
	url := s.ClientURL()
	startNode(t, url, 1)
	nc, perms := connectAs(t, url, adminUser, adminPassword)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SCRATCH", Subjects: []string{"scratch.>"}}); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, "SCRATCH"); err != nil {
		t.Fatalf("the admin removes a stream: %v", err)
	}
	expectNoViolation(t, perms)
	expectDenied(t, url, adminUser, adminPassword, []string{"events.user.forged"})
	sub, _ := connectAs(t, url, adminUser, adminPassword, nats.PermissionErrOnSubscribe(true))
	for _, subject := range []string{"cmd.>", "query.>"} {
		s, err := sub.SubscribeSync(subject)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.NextMsg(2 * time.Second); !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("admin subscribes %s: %v, want a violation (it would take the services' requests)", subject, err)
		}
	}
	// A client has no JetStream at all: its account has none.
	client, _ := connectAs(t, url, clientUser, clientPassword)
	cjs, _ := jetstream.New(client)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := cjs.DeleteStream(cctx, streams.DefaultEventStream); err == nil || strings.Contains(err.Error(), "deleted") {
		t.Fatalf("client removes EVENTS: %v", err)
	}
}
