//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
)

// syncBuffer collects a child process's output while the test reads it.
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

// Issue 16 #6: on a store whose projection meta bucket cannot hold a lease
// (made without per-message TTLs, as a bucket made by hand or damaged is),
// serve used to log "lease not acquired, retrying" and then ignore SIGTERM,
// stuck in its start-up, with no health endpoint. Now health answers (not
// ready) while it starts, the projection reports retrying, and SIGTERM
// ends it cleanly.
func TestServeExitsOnSIGTERMWhileALeaseCannotBeHad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	damageMetaBucket(t, store)

	bin := filepath.Join(dir, "jetflow")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	metrics := natstest.FreeAddr(t)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:-1", "--metrics-listen", metrics,
		"--store-dir", store, "--log-level", "warn")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "JETFLOW_CONFIG=")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logs.String(), "lease not acquired, retrying") {
		select {
		case err := <-exited:
			t.Fatalf("serve exited before it tried the lease: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lease attempt after 60s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Health answers while the read side starts (not ready), and SIGTERM
	// ends the process in that state too.
	natstest.WaitHTTP(t, "http://"+metrics+"/readyz", func(code int, _ string) bool { return code == 503 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve still running 20s after SIGTERM:\n%s", logs.String())
	}
}

// damageMetaBucket makes the projections' meta bucket in store without
// per-message TTLs, on a server that is stopped again before serve starts.
func damageMetaBucket(t *testing.T, store string) {
	t.Helper()
	srv, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer natsserver.Stop(srv)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bucket := projections.Config{}.MetaBucketConfig() // the default layout serve uses
	bucket.LimitMarkerTTL = 0
	if _, err := js.CreateKeyValue(ctx, bucket); err != nil {
		t.Fatal(err)
	}
}
