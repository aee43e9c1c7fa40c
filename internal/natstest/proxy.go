package natstest

import (
	"testing"

	"github.com/jetflow/jetflow/internal/netproxy"
)

// Proxy is a TCP proxy on a loopback port in front of a server, owned by a
// test, that can stop passing bytes (Pause) without closing anything: a
// client then sees a server that has gone silent, as behind a partition or
// a stalled leader, and its requests time out instead of failing fast.
type Proxy struct {
	// URL is the nats:// address that reaches the server through the proxy.
	URL string
	p   *netproxy.Proxy
}

// RunProxy starts a proxy in front of the server at addr (host:port);
// t.Cleanup closes it and every connection through it.
func RunProxy(t testing.TB, addr string) *Proxy {
	t.Helper()
	p, err := netproxy.NewProxy()
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	p.SetTarget(addr)
	t.Cleanup(func() { _ = p.Close() })
	return &Proxy{URL: "nats://" + p.Addr(), p: p}
}

// Pause holds every byte, both ways, and every new connection until
// Resume.
func (p *Proxy) Pause() { p.p.Cut() }

// Resume passes on what was held and what follows.
func (p *Proxy) Resume() { p.p.Heal() }
