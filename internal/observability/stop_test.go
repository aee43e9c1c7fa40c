package observability_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/observability"
	"github.com/prometheus/client_golang/prometheus"
)

// TestStopWithoutStartReleasesTheAddress: a server built but never started
// (an error between NewServer and Start) must be stoppable: Stop returns
// within its context and releases the listening port.
func TestStopWithoutStartReleasesTheAddress(t *testing.T) {
	t.Parallel()
	srv, err := observability.NewServer("127.0.0.1:0", prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		done <- srv.Stop(ctx)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Stop of a server never started did not return within 5s (its context had a 1s deadline)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port %s still held after Stop: %v", addr, err)
	}
	ln.Close()
}
