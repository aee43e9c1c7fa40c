package projections_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/projections"
)

// stuckDialer connects a client to the server through an in-memory pipe,
// as serve's in-process connection is (net.Pipe: a write returns only once
// the other side reads it), and can freeze it: it stops reading what the
// client writes, as a server busy on a damaged store does. The client's
// flusher then blocks in its write holding the connection's lock, and
// every call on the connection waits for it whatever its ctx says.
type stuckDialer struct {
	mu     sync.Mutex
	frozen chan struct{} // closed while not frozen
	conns  []net.Conn
}

func newStuckDialer() *stuckDialer {
	d := &stuckDialer{frozen: make(chan struct{})}
	close(d.frozen)
	return d
}

func (d *stuckDialer) Dial(network, address string) (net.Conn, error) {
	upstream, err := net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	client, relay := net.Pipe()
	d.mu.Lock()
	d.conns = append(d.conns, upstream, relay)
	d.mu.Unlock()
	go func() { _, _ = io.Copy(relay, upstream); relay.Close() }()
	go func() {
		defer upstream.Close()
		buf := make([]byte, 32*1024)
		for {
			d.mu.Lock()
			open := d.frozen
			d.mu.Unlock()
			<-open
			n, err := relay.Read(buf)
			if n > 0 {
				if _, werr := upstream.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return client, nil
}

func (d *stuckDialer) freeze() {
	d.mu.Lock()
	d.frozen = make(chan struct{})
	d.mu.Unlock()
}

func (d *stuckDialer) thaw() {
	d.mu.Lock()
	select {
	case <-d.frozen:
	default:
		close(d.frozen)
	}
	d.mu.Unlock()
}

// close ends the connections (the client sees them drop).
func (d *stuckDialer) close() {
	d.thaw()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		_ = c.Close()
	}
}

// labelled runs fn with a pprof label every goroutine it starts inherits
// (those nats.go starts on its behalf too), and returns a check that
// lists the ones still running.
func labelled(t *testing.T, fn func(ctx context.Context)) (running func() string) {
	t.Helper()
	label := "startup-test-" + t.Name()
	pprof.Do(context.Background(), pprof.Labels("test", label), fn)
	return func() string {
		var b bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		var out []string
		for _, group := range strings.Split(b.String(), "\n\n") {
			if strings.Contains(group, `"test":"`+label+`"`) {
				out = append(out, group)
			}
		}
		return strings.Join(out, "\n\n")
	}
}

// stuckEnv is an event store with a client connection that can be made
// stuck, and a check that nothing a test started on it is left running.
type stuckEnv struct {
	*env
	d  *stuckDialer
	nc *nats.Conn
}

func newStuckEnv(t *testing.T) *stuckEnv {
	t.Helper()
	e := newEnv(t)
	d := newStuckDialer()
	nc, err := nats.Connect(e.url, nats.SetCustomDialer(d), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	t.Cleanup(d.close)
	// The connection's own request mux (a subscription living as long as
	// the connection) starts here, not with the first request under test.
	if _, err := nc.Request("startup.test", nil, 50*time.Millisecond); !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
		t.Fatal(err)
	}
	return &stuckEnv{env: e, d: d, nc: nc}
}

// stick makes the connection stuck: the relay stops reading, and one
// publish makes the client's flusher block in its write, holding the
// connection's lock.
func (s *stuckEnv) stick() {
	s.d.freeze()
	go func() { _ = s.nc.Publish("startup.test", []byte("x")) }()
	time.Sleep(100 * time.Millisecond)
}

// noneLeft drops the stuck connection (the client reconnects, which gives
// the blocked calls back) and waits until no goroutine running reports.
func (s *stuckEnv) noneLeft(t *testing.T, running func() string) {
	t.Helper()
	s.d.close()
	deadline := time.Now().Add(20 * time.Second)
	for left := running(); left != ""; left = running() {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left running:\n%s", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// within fails the test unless fn returns within d.
func within[T any](t *testing.T, d time.Duration, what string, fn func() T) T {
	t.Helper()
	out := make(chan T, 1)
	go func() { out <- fn() }()
	select {
	case v := <-out:
		return v
	case <-time.After(d):
		t.Fatalf("%s still waiting %s later", what, d)
		panic("unreachable")
	}
}

// Runner.Start on a connection that is stuck (serve's in-process one,
// with the server not reading: every call waits for the connection's
// lock whatever its ctx says) returns soon after its ctx ends, and once
// the connection gives the blocked calls back nothing it started is left.
func TestStartOnAStuckConnectionReturnsWhenItsCtxEnds(t *testing.T) {
	t.Parallel()
	s := newStuckEnv(t)
	r, err := projections.NewRunner(s.nc, s.cfg, []projections.Projection{counterProjection(&counterHandler{})})
	if err != nil {
		t.Fatal(err)
	}
	s.stick()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	running := labelled(t, func(context.Context) {
		go func() { started <- r.Start(ctx) }()
	})
	time.Sleep(300 * time.Millisecond)
	cancel()
	err = within(t, 3*time.Second, "Start after its ctx ended", func() error { return <-started })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("start: %v, want context canceled", err)
	}
	s.noneLeft(t, running)
}

// A lease that cannot be had (here the meta bucket refuses per-message
// TTLs, as a bucket made by hand or damaged does): Start does not wait
// behind it, the projection reports retrying with the cause, and a Stop
// once the connection is stuck returns within its ctx.
func TestStartWhileTheLeaseCannotBeHad(t *testing.T) {
	t.Parallel()
	s := newStuckEnv(t)
	bucket := s.cfg.MetaBucketConfig()
	bucket.LimitMarkerTTL = 0
	if _, err := s.js.CreateKeyValue(ctxT(t), bucket); err != nil {
		t.Fatal(err)
	}
	r, err := projections.NewRunner(s.nc, s.cfg, []projections.Projection{counterProjection(&counterHandler{})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var startErr error
	running := labelled(t, func(context.Context) {
		startErr = within(t, 10*time.Second, "Start while the lease cannot be had", func() error { return r.Start(ctx) })
	})
	if startErr != nil {
		t.Fatal(startErr)
	}
	st := status(t, r, "counters")
	if st.State != projections.StateRetrying || !strings.Contains(st.Error, "lease") {
		t.Fatalf("status %+v, want retrying on the lease", st)
	}
	s.stick()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), time.Second)
	defer stopCancel()
	within(t, 6*time.Second, "Stop on a stuck connection", func() error { return r.Stop(stopCtx) })
	s.noneLeft(t, running)
}

// Held by another process, the lease puts the projection on standby; a
// Stop once the connection is stuck returns within its ctx.
func TestStandbyStopsOnAStuckConnection(t *testing.T) {
	t.Parallel()
	s := newStuckEnv(t)
	kv, err := s.js.CreateKeyValue(ctxT(t), s.cfg.MetaBucketConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctxT(t), "counters.lease.g1", []byte("elsewhere:1:x")); err != nil {
		t.Fatal(err)
	}
	r, err := projections.NewRunner(s.nc, s.cfg, []projections.Projection{counterProjection(&counterHandler{})})
	if err != nil {
		t.Fatal(err)
	}
	var startErr error
	running := labelled(t, func(context.Context) { startErr = r.Start(ctxT(t)) })
	if startErr != nil {
		t.Fatal(startErr)
	}
	if st := status(t, r, "counters"); st.State != projections.StateStandby {
		t.Fatalf("status %+v, want standby", st)
	}
	s.stick()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), time.Second)
	defer stopCancel()
	within(t, 6*time.Second, "Stop on a stuck connection", func() error { return r.Stop(stopCtx) })
	s.noneLeft(t, running)
}
