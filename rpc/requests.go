package rpc

import (
	"context"
	"sync"
	"time"
)

// requests counts the requests a server has taken and not answered yet.
// Unlike a WaitGroup it can be waited on while requests keep arriving,
// which is exactly what a stop does.
type requests struct {
	mu      sync.Mutex
	n       int
	arrived uint64
	closed  bool
	idle    chan struct{} // closed while n == 0
}

func newRequests() *requests {
	idle := make(chan struct{})
	close(idle)
	return &requests{idle: idle}
}

// begin counts a request; false once closed (the caller refuses it).
func (r *requests) begin() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if r.n == 0 {
		r.idle = make(chan struct{})
	}
	r.n++
	r.arrived++
	return true
}

func (r *requests) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n--
	if r.n == 0 {
		close(r.idle)
	}
}

func (r *requests) state() (n int, arrived uint64, idle <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, r.arrived, r.idle
}

// close refuses later requests.
func (r *requests) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
}

// quietPeriod is how long no request may arrive before a stopping server
// trusts that its unsubscribed endpoints have handed over every request
// their buffers held. micro does not say when its drain is done, but the
// buffers empty in microseconds once nothing blocks the handler.
const quietPeriod = 20 * time.Millisecond

// waitQuiet returns once every request taken is answered and none arrived
// for quietPeriod, or with ctx's error.
func (r *requests) waitQuiet(ctx context.Context) error {
	for {
		_, _, idle := r.state()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
		_, before, _ := r.state()
		t := time.NewTimer(quietPeriod)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		if n, after, _ := r.state(); n == 0 && after == before {
			return nil
		}
	}
}

// waitIdle waits at most d for the requests taken to be answered and
// returns how many are still running.
func (r *requests) waitIdle(d time.Duration) int {
	_, _, idle := r.state()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
	n, _, _ := r.state()
	return n
}
