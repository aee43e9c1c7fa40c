package netproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// ErrProxyClosed is returned by a proxy's operations after Close.
var ErrProxyClosed = errors.New("netproxy: proxy closed")

// Proxy forwards TCP connections from its own loopback port to a target
// address, and cuts them as a network partition that drops packets does:
// while cut, nothing crosses in either direction and nothing is refused or
// reset. Bytes already read are held, reads stop (so the senders' socket
// buffers fill, as behind a firewall), a connection opened meanwhile is
// accepted but reaches the target only after Heal, and a close seen on
// one side reaches the other only after Heal. Heal passes on what was held,
// as TCP retransmission does once a partition ends; whatever a peer
// decided meanwhile (a ping timeout, a new leader) stands.
type Proxy struct {
	ln net.Listener

	mu     sync.Mutex
	target string        // where connections go; "" holds them until SetTarget
	cut    bool          // while true, gate() blocks
	open   chan struct{} // closed while not cut and a target is set
	conns  map[net.Conn]struct{}
	closed bool
	done   chan struct{} // closed by Close: every held goroutine returns
	wg     sync.WaitGroup
}

// NewProxy listens on a free loopback port. Connections are held until
// SetTarget names where they go.
func NewProxy() (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, open: make(chan struct{}), conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget sets the address new connections are forwarded to.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
	p.reopenLocked()
}

// Cut stops every byte and every new connection until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cut {
		p.cut = true
		p.open = make(chan struct{})
	}
}

// Heal lets through what was held and what follows.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	p.reopenLocked()
}

// IsCut reports whether the proxy is cut.
func (p *Proxy) IsCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

func (p *Proxy) reopenLocked() {
	if p.cut || p.target == "" {
		return
	}
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// gate waits until bytes may pass; false once the proxy is closed.
func (p *Proxy) gate() bool {
	p.mu.Lock()
	open := p.open
	p.mu.Unlock()
	select {
	case <-open:
		return true
	case <-p.done:
		return false
	}
}

// Close stops listening, closes every connection and waits for its
// goroutines, held ones included.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrProxyClosed
	}
	p.closed = true
	close(p.done)
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// track registers c so that Close closes it; false when already closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(client) {
			_ = client.Close()
			return
		}
		p.wg.Add(1)
		go p.connect(client)
	}
}

// connect dials the target for client once the gate is open: a
// connection made during a cut waits, as a SYN behind a partition does.
func (p *Proxy) connect(client net.Conn) {
	defer p.wg.Done()
	if !p.gate() {
		p.closeConn(client)
		return
	}
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	server, err := net.Dial("tcp", target)
	if err != nil || !p.track(server) {
		if server != nil {
			_ = server.Close()
		}
		p.closeConn(client)
		return
	}
	p.wg.Add(2)
	go p.pipe(server, client)
	go p.pipe(client, server)
}

func (p *Proxy) closeConn(c net.Conn) {
	_ = c.Close()
	p.untrack(c)
}

// pipe copies src to dst, waiting at the gate before each write and
// before passing a close on.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				p.closeConn(src)
				p.closeConn(dst)
				return
			}
		}
		if err != nil {
			// A close crosses only when the link is up. A half-closed
			// stream (io.EOF) is passed on as a close of both ways, which
			// is all NATS needs.
			if p.gate() {
				p.closeConn(dst)
				p.closeConn(src)
			}
			return
		}
	}
}
