package natsserver_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natsserver"
)

// TestSecondServerOnOneStoreIsRefused: two servers on one store dir hand
// out the same stream sequences and destroy each other's acknowledged
// messages, so the second is refused, naming the first, and nothing of the
// first's is touched.
func TestSecondServerOnOneStoreIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := natsserver.Start(natsserver.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { natsserver.Stop(first) })

	second, err := natsserver.Start(natsserver.Config{StoreDir: dir, ReadyTimeout: 2 * time.Second})
	if err == nil {
		natsserver.Stop(second)
		t.Fatal("a second server started on a store dir in use")
	}
	var locked *natsserver.StoreLockedError
	if !errors.Is(err, natsserver.ErrStoreLocked) || !errors.As(err, &locked) {
		t.Fatalf("error %v does not match ErrStoreLocked", err)
	}
	if locked.PID != os.Getpid() || locked.URL != first.ClientURL() || locked.Dir != dir {
		t.Fatalf("lock error names %+v, want pid %d, url %s, dir %s", locked, os.Getpid(), first.ClientURL(), dir)
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), first.ClientURL()) {
		t.Fatalf("error %q does not name the store dir and the server holding it", err)
	}
	// The first server still works.
	nc, err := nats.Connect(first.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// TestStoreIsFreeAfterStop: a restart on the same store dir, right after
// Stop returns, takes the lock (serve and the tests restart this way).
func TestStoreIsFreeAfterStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 3 {
		s, err := natsserver.Start(natsserver.Config{StoreDir: dir})
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		natsserver.Stop(s)
	}
	// A server shut down without Stop frees the dir once it has shut down.
	s, err := natsserver.Start(natsserver.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	s.WaitForShutdown()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err = natsserver.Start(natsserver.Config{StoreDir: dir})
		if err == nil {
			natsserver.Stop(s)
			return
		}
		if !errors.Is(err, natsserver.ErrStoreLocked) || time.Now().After(deadline) {
			t.Fatalf("start after Shutdown: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holderEnv makes the test binary, run again as a child, hold a store dir.
const holderEnv = "NATSSERVER_TEST_HOLD_STORE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		s, err := natsserver.Start(natsserver.Config{StoreDir: dir})
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(3)
		}
		os.Stdout.WriteString(s.ClientURL() + "\n")
		time.Sleep(time.Minute) // until the parent kills it
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestStoreHeldByAnotherProcess: a server in another process holds the
// store dir until it dies, SIGKILL included; then the dir is free, with no
// stale lock to clean up by hand.
func TestStoreHeldByAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), holderEnv+"="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	buf := make([]byte, 256)
	n, err := out.Read(buf) // the child's URL: it holds the lock
	if err != nil {
		t.Fatalf("child holding the store: %v", err)
	}
	url := strings.TrimSpace(string(buf[:n]))

	_, err = natsserver.Start(natsserver.Config{StoreDir: dir, ReadyTimeout: 2 * time.Second})
	var locked *natsserver.StoreLockedError
	if !errors.As(err, &locked) {
		t.Fatalf("start on a dir another process holds: %v, want *StoreLockedError", err)
	}
	if locked.PID != child.Process.Pid || locked.URL != url {
		t.Fatalf("lock error names pid %d url %q, want the child's %d %q", locked.PID, locked.URL, child.Process.Pid, url)
	}
	if !strings.Contains(err.Error(), "process ") {
		t.Fatalf("error %q does not name the process", err)
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	s, err := natsserver.Start(natsserver.Config{StoreDir: dir})
	if err != nil {
		t.Fatalf("start after the holder was killed: %v", err)
	}
	natsserver.Stop(s)
	if _, err := os.Stat(filepath.Join(dir, "jetflow.lock")); err != nil {
		t.Fatalf("lock file: %v", err)
	}
}
