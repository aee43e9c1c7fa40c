package netproxy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/internal/netproxy"
)

// A cut proxy passes nothing either way, refuses nothing and closes
// nothing: a request through it times out, a connection opened meanwhile
// hangs, and after Heal both carry on with what was held.
func TestProxyCutHoldsAndHealPassesOn(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	p, err := netproxy.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	p.SetTarget(srv.Addr().String())

	responder := natstest.Connect(t, srv.URL)
	if _, err := responder.Subscribe("echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		t.Fatal(err)
	}
	nc := natstest.Connect(t, "nats://"+p.Addr(), nats.MaxReconnects(-1))
	if m, err := nc.Request("echo", []byte("before"), 2*time.Second); err != nil || string(m.Data) != "before" {
		t.Fatalf("through the proxy: %v %v", m, err)
	}

	p.Cut()
	if !p.IsCut() {
		t.Fatal("IsCut after Cut")
	}
	if _, err := nc.Request("echo", []byte("during"), 500*time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("request across a cut: %v, want a timeout", err)
	}
	if nc.Status() != nats.CONNECTED {
		t.Fatalf("a cut closed the connection: %v", nc.Status())
	}
	// A publish made during the cut is held, not lost.
	sub, err := responder.SubscribeSync("held")
	if err != nil {
		t.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("held", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// A new connection hangs until the heal.
	dialed := make(chan error, 1)
	go func() {
		c, err := nats.Connect("nats://"+p.Addr(), nats.Timeout(10*time.Second))
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	select {
	case err := <-dialed:
		t.Fatalf("a connection went through a cut proxy: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := sub.NextMsg(300 * time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("a publish crossed the cut: %v", err)
	}

	p.Heal()
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("the held publish after the heal: %v", err)
	}
	if err := <-dialed; err != nil {
		t.Fatalf("the held connection after the heal: %v", err)
	}
	if m, err := nc.Request("echo", []byte("after"), 2*time.Second); err != nil || string(m.Data) != "after" {
		t.Fatalf("after the heal: %v %v", m, err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := p.Close(); !errors.Is(err, netproxy.ErrProxyClosed) {
		t.Fatalf("second close: %v", err)
	}
}

// Close returns while a connection is held at a cut: nothing it started
// keeps running.
func TestProxyCloseReleasesHeldConnections(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	p, err := netproxy.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	p.SetTarget(srv.Addr().String())
	nc := natstest.Connect(t, "nats://"+p.Addr(), nats.MaxReconnects(0))
	p.Cut()
	_ = nc.Publish("x", make([]byte, 64<<10))
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close still waiting 5s after it was called on a cut proxy")
	}
}
