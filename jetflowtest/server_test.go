package jetflowtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
)

// TestRunServerLeavesNothingBehind runs a server in a subtest and checks,
// once the subtest's cleanup ran, that none of the server's or its
// clients' goroutines is left and its store dir is gone. It does not run in
// parallel: no other test's server may be running while it counts.
func TestRunServerLeavesNothingBehind(t *testing.T) {
	before := runtime.NumGoroutine()
	natsBefore := natsGoroutines()
	var dir string
	t.Run("server", func(t *testing.T) {
		s := jetflowtest.RunServer(t)
		dir = s.StoreDir()
		if !strings.HasPrefix(s.URL(), "nats://127.0.0.1:") {
			t.Errorf("URL %q, want a loopback address", s.URL())
		}
		useServer(t, s)
		if len(natsGoroutines()) == 0 {
			t.Fatal("no server goroutine seen while it runs: the check below would prove nothing")
		}
		if _, err := os.Stat(dir); err != nil {
			t.Fatalf("store dir while running: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := natsGoroutines()
		n := runtime.NumGoroutine()
		if len(left) <= len(natsBefore) && n <= before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after cleanup %d goroutines run (%d before), of the server and its clients:\n%s", n, before, strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store dir %s after cleanup: %v, want it gone", dir, err)
	}
}

// natsGoroutines returns the stacks of goroutines running nats-server or
// nats.go code.
func natsGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/nats-io/nats-server/") || strings.Contains(g, "github.com/nats-io/nats.go") {
			out = append(out, g)
		}
	}
	return out
}

// useServer provisions jetflow's event store on s and appends an event, so
// the server runs JetStream, KV and client goroutines.
func useServer(t *testing.T, s *jetflowtest.Server) {
	t.Helper()
	_, js := s.JetStream(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatalf("provision: %v", err)
	}
	store, err := streams.NewStore(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.Append(ctx, "account", "a1", streams.Position{}, jetflowtest.Event(EventOpened, Opened{Owner: "ada"}))
	if err != nil || res.Version != 1 {
		t.Fatalf("append: %+v, %v", res, err)
	}
}

func TestServerShutdownAndRestartOnTheSameStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := jetflowtest.RunServer(t, jetflowtest.WithStoreDir(dir))
	useServer(t, s)
	nc := s.Connect(t)
	s.Shutdown()
	if s.NATS().Running() {
		t.Fatal("server runs after Shutdown")
	}
	if err := nc.Flush(); err == nil {
		t.Error("flush to a shut down server succeeded")
	}

	again := jetflowtest.RunServer(t, jetflowtest.WithStoreDir(dir))
	if again.StoreDir() != dir {
		t.Errorf("store dir %q, want %q", again.StoreDir(), dir)
	}
	_, js := again.JetStream(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, streams.DefaultEventStream)
	if err != nil {
		t.Fatalf("event stream after restart: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("event stream after restart: %v, %+v", err, info)
	}
}

// A server on a store dir of the caller's: Close leaves the dir and what
// it holds, for the next server on it, and a second server is refused the
// dir while the first runs.
func TestStartServerKeepsAGivenStoreDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, err := jetflowtest.StartServer(jetflowtest.WithStoreDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	if srv.StoreDir() != dir || !strings.HasPrefix(srv.URL(), "nats://127.0.0.1:") {
		t.Errorf("store dir %q, URL %q; want %q on loopback", srv.StoreDir(), srv.URL(), dir)
	}
	useServer(t, srv)
	if second, err := jetflowtest.StartServer(jetflowtest.WithStoreDir(dir)); !errors.Is(err, natsserver.ErrStoreLocked) {
		if second != nil {
			_ = second.Close()
		}
		t.Fatalf("second server on the same store dir: %v, want it refused", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatalf("store after Close: %v, want it kept", err)
	}

	again, err := jetflowtest.StartServer(jetflowtest.WithStoreDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Close() })
	_, js := again.JetStream(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, streams.DefaultEventStream)
	if err != nil {
		t.Fatalf("event stream after restart: %v", err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Fatalf("event stream after restart: %v, %+v", err, info)
	}
}

func TestRunCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: skipped with -short")
	}
	t.Parallel()
	c := jetflowtest.RunCluster(t)
	if urls := c.URLs(); len(urls) != 3 || len(c.Nodes()) != 3 || c.URL() != strings.Join(urls, ",") {
		t.Fatalf("cluster URLs %q (URL %q), %d nodes", urls, c.URL(), len(c.Nodes()))
	}
	_, js := c.JetStream(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3}); err != nil {
		t.Fatalf("create R3 stream: %v", err)
	}
	if ack, err := js.Publish(ctx, "r3.a", []byte("x")); err != nil || ack.Sequence != 1 {
		t.Fatalf("publish: %v %+v", err, ack)
	}
}
