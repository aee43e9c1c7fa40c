//go:build unix

package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natstest"
)

// The real binary: serve on an embedded server becomes ready, and SIGINT
// shuts it down cleanly (exit status 0) in bounded time.
func TestServeStopsCleanlyOnSIGINT(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "jetflow")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	metrics := natstest.FreeAddr(t)
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:-1", "--metrics-listen", metrics,
		"--store-dir", filepath.Join(dir, "data"), "--log-level", "warn")
	cmd.Dir = dir // no jetflow.tsk there
	cmd.Env = append(os.Environ(), "JETFLOW_CONFIG=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + metrics + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve not ready after 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after SIGINT: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve still running 30s after SIGINT")
	}
}
