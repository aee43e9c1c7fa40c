package lifecycle_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/lifecycle"
)

func TestWatchConnFailsWhenTheConnectionCloses(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc, err := nats.Connect(srv.URL, nats.Name("watched"))
	if err != nil {
		t.Fatal(err)
	}
	var e lifecycle.Ending
	unwatch := lifecycle.WatchConn(nc, func(err error) { e.Fail(err) })
	defer unwatch()
	select {
	case <-e.Done():
		t.Fatal("failed while the connection is open")
	case <-time.After(50 * time.Millisecond):
	}
	nc.Close()
	select {
	case <-e.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("no failure 5s after the connection closed")
	}
	if !errors.Is(e.Err(), nats.ErrConnectionClosed) {
		t.Fatalf("Err = %v, want ErrConnectionClosed", e.Err())
	}
}

func TestUnwatchedConnectionDoesNotFail(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var e lifecycle.Ending
	unwatch := lifecycle.WatchConn(nc, func(err error) { e.Fail(err) })
	unwatch()
	unwatch() // a second call does nothing
	nc.Close()
	select {
	case <-e.Done():
		t.Fatalf("failed after unwatch: %v", e.Err())
	case <-time.After(100 * time.Millisecond):
	}
}
