package natsserver_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natsserver"
)

// TestListenInUseIsNamedAtOnce: a client address already taken is a start
// error naming the address and the cause, at once rather than after the
// ready timeout.
func TestListenInUseIsNamedAtOnce(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	start := time.Now()
	s, err := natsserver.Start(natsserver.Config{Listen: addr, StoreDir: t.TempDir(), ReadyTimeout: 2 * time.Second})
	if err == nil {
		natsserver.Stop(s)
		t.Fatalf("started on %s, which is taken", addr)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("error after %s, want at once: %v", took, err)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("error %q does not name the address %s and the cause", err, addr)
	}
}

// TestBadStoreDirIsNamedAtOnce: a store dir JetStream cannot use is a start
// error naming it and the cause, at once.
func TestBadStoreDirIsNamedAtOnce(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := natsserver.Start(natsserver.Config{StoreDir: file, ReadyTimeout: 2 * time.Second})
	if err == nil {
		natsserver.Stop(s)
		t.Fatalf("started with store dir %s, a regular file", file)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("error after %s, want at once: %v", took, err)
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("error %q does not name the store dir %s and the cause", err, file)
	}
}
