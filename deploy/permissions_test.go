package deploy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// TestNATSConfPermissions starts a server from the repository's nats.conf,
// a jetflow node on it as the service user, and checks what the
// command-client user may and may not do.
func TestNATSConfPermissions(t *testing.T) {
	t.Parallel()
	s := startServer(t, loadNATSConf(t))
	url := s.ClientURL()
	node := startNode(t, url, 1)

	// stored reports whether EVENTS holds a message on subject.
	stored := func(t *testing.T, subject string) bool {
		t.Helper()
		st, err := node.JS.Stream(testContext(t), streams.DefaultEventStream)
		if err != nil {
			t.Fatalf("EVENTS stream: %v", err)
		}
		_, err = st.GetLastMsgForSubject(testContext(t), subject)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return false
		}
		if err != nil {
			t.Fatalf("EVENTS last message on %s: %v", subject, err)
		}
		return true
	}

	t.Run("client sends commands and gets replies", func(t *testing.T) {
		t.Parallel()
		nc, perms := connectAs(t, url, clientUser, clientPassword)
		for _, name := range []string{"alice", "bob"} {
			if _, err := createUser(nc, name); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
		}
		expectNoViolation(t, perms)
	})

	t.Run("client gets the 404 of an unknown command", func(t *testing.T) {
		t.Parallel()
		nc, perms := connectAs(t, url, clientUser, clientPassword)
		resp, err := nc.Request("cmd.user.nope", []byte(`{}`), 5*time.Second)
		if err != nil {
			t.Fatalf("request cmd.user.nope: %v", err)
		}
		if e := wire.ParseErrorReply(resp); e == nil || e.Status != wire.StatusNotFound {
			t.Fatalf("reply %q: want a 404", resp.Data)
		}
		expectNoViolation(t, perms)
	})

	t.Run("a service sends commands to another on its private inbox", func(t *testing.T) {
		t.Parallel()
		nc, perms := connectAs(t, url, serviceUser, servicePassword, nats.CustomInboxPrefix(serviceInboxPrefix))
		if _, err := createUser(nc, "carol"); err != nil {
			t.Fatalf("create carol: %v", err)
		}
		expectNoViolation(t, perms)
	})

	t.Run("the service user discovers the command service", func(t *testing.T) {
		t.Parallel()
		nc, perms := connectAs(t, url, serviceUser, servicePassword, nats.CustomInboxPrefix(serviceInboxPrefix))
		resp, err := nc.Request("$SRV.PING."+aggregates.DefaultServiceName, nil, 5*time.Second)
		if err != nil {
			t.Fatalf("$SRV.PING: %v", err)
		}
		if !strings.Contains(string(resp.Data), aggregates.DefaultServiceName) {
			t.Fatalf("$SRV.PING reply %q does not name %s", resp.Data, aggregates.DefaultServiceName)
		}
		expectNoViolation(t, perms)
	})

	t.Run("client cannot publish events", func(t *testing.T) {
		t.Parallel()
		nc, perms := connectAs(t, url, clientUser, clientPassword)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if ack, err := js.Publish(ctx, "events.user.mallory", []byte(`{"forged":true}`)); err == nil {
			t.Fatalf("publish to events.user.mallory acknowledged: %+v", ack)
		}
		expectViolation(t, perms, `Publish to "events.user.mallory"`)
		if stored(t, "events.user.mallory") {
			t.Fatal("EVENTS stored the refused publish")
		}
	})

	t.Run("client cannot delete a stream", func(t *testing.T) {
		t.Parallel()
		nc, perms := connectAs(t, url, clientUser, clientPassword)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, streams.DefaultEventStream); err == nil {
			t.Fatal("stream delete of EVENTS succeeded")
		}
		expectViolation(t, perms, `Publish to "$JS.API.STREAM.DELETE.EVENTS"`)
		if _, err := node.JS.Stream(testContext(t), streams.DefaultEventStream); err != nil {
			t.Fatalf("EVENTS after the refused delete: %v", err)
		}
	})

	t.Run("client cannot publish outside cmd and query", func(t *testing.T) {
		t.Parallel()
		for _, subject := range []string{
			"topic.orders.normal.o1",           // topics
			"$KV.jetflow_snapshots.user.x",     // snapshots
			"$JS.API.STREAM.PURGE.EVENTS",      // JetStream API
			"$JS.API.CONSUMER.CREATE.EVENTS.x", // consumers
			"_JETFLOW_INBOX.forged.reply",      // the services' replies
			"$SYS.REQ.SERVER.PING",             // system requests
			"$SRV.PING",                        // discovery: micro would answer a forged reply
		} {
			nc, perms := connectAs(t, url, clientUser, clientPassword)
			if err := nc.Publish(subject, []byte("x")); err != nil {
				t.Fatalf("publish %s: %v", subject, err)
			}
			expectViolation(t, perms, `Publish to "`+subject+`"`)
		}
	})

	t.Run("client cannot subscribe outside its inbox", func(t *testing.T) {
		t.Parallel()
		for _, subject := range []string{
			"cmd.>",                   // would steal commands from the service
			"query.>",                 // would steal queries
			"events.>",                // raw events
			serviceInboxPrefix + ".>", // the services' JetStream replies
			"$JS.API.>",
		} {
			nc, _ := connectAs(t, url, clientUser, clientPassword, nats.PermissionErrOnSubscribe(true))
			sub, err := nc.SubscribeSync(subject)
			if err != nil {
				t.Fatalf("subscribe %s: %v", subject, err)
			}
			if _, err := sub.NextMsg(2 * time.Second); !errors.Is(err, nats.ErrPermissionViolation) {
				t.Fatalf("subscribe %s: got %v, want a permissions violation", subject, err)
			}
		}
	})

	t.Run("unknown and wrong credentials are refused", func(t *testing.T) {
		t.Parallel()
		for _, opt := range []nats.Option{
			nil,
			nats.UserInfo(clientUser, "wrong"),
			nats.UserInfo("nobody", clientPassword),
		} {
			opts := []nats.Option{nats.NoReconnect()}
			if opt != nil {
				opts = append(opts, opt)
			}
			nc, err := nats.Connect(url, opts...)
			if err == nil {
				nc.Close()
				t.Fatal("connection accepted")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Fatalf("got %v, want an authorization violation", err)
			}
		}
	})

	t.Run("system user reaches the system account", func(t *testing.T) {
		t.Parallel()
		nc, _ := connectAs(t, url, sysUser, sysPassword)
		if _, err := nc.Request("$SYS.REQ.SERVER.PING", nil, 5*time.Second); err != nil {
			t.Fatalf("$SYS.REQ.SERVER.PING: %v", err)
		}
	})
}

// expectViolation waits for the server's permission violation naming what.
func expectViolation(t *testing.T, perms permissionErrors, what string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-perms:
			if strings.Contains(err.Error(), what) {
				return
			}
			t.Logf("other violation: %v", err)
		case <-deadline:
			t.Fatalf("no permissions violation for %s", what)
		}
	}
}

// expectNoViolation fails on any violation reported so far.
func expectNoViolation(t *testing.T, perms permissionErrors) {
	t.Helper()
	select {
	case err := <-perms:
		t.Fatalf("unexpected permissions violation: %v", err)
	default:
	}
}
