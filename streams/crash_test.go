//go:build unix

package streams_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// jetflowServe runs `jetflow serve` as a process of its own on store, so
// that a test can SIGKILL it; it returns its client URL once the event
// stream accepts appends.
func jetflowServe(t *testing.T, bin, store, conf string) (*exec.Cmd, string) {
	t.Helper()
	addr := natstest.FreeAddr(t)
	cmd := exec.Command(bin, "serve", "--listen", addr, "--metrics-listen", "", "--store-dir", store,
		"--nats-config", conf, "--log-level", "error")
	cmd.Env = append(os.Environ(), "JETFLOW_CONFIG=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "nats://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		if nc, err := nats.Connect(url); err == nil {
			js, _ := jetstream.New(nc)
			_, err = js.Stream(ctxT(t), streams.DefaultEventStream)
			nc.Close()
			if err == nil {
				return cmd, url
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not come up within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A commit survives a crash whole or not at all: writers append commits of
// five events while the server process is killed (SIGKILL, no shutdown);
// after a restart on the same store every aggregate holds whole commits
// only, and — with sync_interval: always, which fsyncs before the ack —
// every acknowledged commit.
func TestACommitSurvivesACrashWholeOrNotAtAll(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "jetflow")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/jetflow").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("jetstream { sync_interval: always }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "data")
	serve, url := jetflowServe(t, bin, store, conf)

	const writers, perCommit = 8, 5
	acked := make([]uint64, writers) // the version each writer's last acked commit reached
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			nc, err := nats.Connect(url, nats.MaxReconnects(0))
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			store, err := streams.NewStore(js, streams.DefaultConfig())
			if err != nil {
				t.Error(err)
				return
			}
			var pos streams.Position
			for ctx.Err() == nil {
				events := make([]streams.Event, perCommit)
				for i := range events {
					events[i] = ev("crash.noted", map[string]uint64{"n": pos.Version + uint64(i) + 1})
				}
				actx, cancel := context.WithTimeout(ctx, 2*time.Second)
				res, err := store.Append(actx, "crash", fmt.Sprint("w", w), pos, events...)
				cancel()
				if err != nil {
					return // the server is gone
				}
				pos, acked[w] = res.Position(), res.Version
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	if err := serve.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = serve.Wait()
	stop()
	wg.Wait()

	_, url = jetflowServe(t, bin, store, conf)
	f := newFixture(t, url, 1)
	total := uint64(0)
	for w := range writers {
		events := loadAll(t, f.store, "crash", fmt.Sprint("w", w), 0)
		n := uint64(len(events))
		total += n
		switch {
		case n%perCommit != 0:
			t.Errorf("writer %d: %d events stored, not whole commits of %d", w, n, perCommit)
		case n < acked[w]:
			t.Errorf("writer %d: %d events stored, but commits up to version %d were acknowledged", w, n, acked[w])
		}
		for i, e := range events {
			if e.Version != uint64(i+1) {
				t.Fatalf("writer %d: event %d has version %d", w, i, e.Version)
			}
		}
	}
	if total == 0 {
		t.Fatal("no commit was stored before the crash: the test proved nothing")
	}
	t.Logf("%d events in commits of %d survived the crash; every acknowledged one", total, perCommit)
}
