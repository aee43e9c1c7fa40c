package rpc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natstest"
)

// Requests the service received before Stop, running or queued for a
// slot, are answered before Stop returns: the process closes its
// connection right after.
func TestStopAnswersRequestsQueuedForASlot(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	conn := srv.Connect(t)
	s := NewServer(conn, ServerConfig{Name: "queued-svc", Version: "1.0.0", SubjectPrefix: "q", Noun: "thing", UnknownCode: "unknown_thing", Concurrency: 1})
	release := make(chan struct{})
	if err := s.Add(Route{Subject: "q.slow", Name: "slow", Handle: func(ctx context.Context, _ Request) Response {
		<-release
		if ctx.Err() != nil {
			return Response{Body: []byte("cancelled")}
		}
		return Response{Body: []byte("done")}
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	client := srv.Connect(t)
	inbox := client.NewInbox()
	replies, err := client.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	for range n {
		if err := client.PublishRequest("q.slow", inbox, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Once flushed, the server has passed all three to the service: one
	// runs, one waits for the slot, one waits in the connection's buffer.
	if err := client.Flush(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "one request running and one waiting for the slot", func() bool { taken, _, _ := s.reqs.state(); return taken == 2 })
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	waitUntil(t, "the endpoints unsubscribed", func() bool { return s.svc.Stopped() })
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
	conn.Close() // what serve does next
	for i := range n {
		msg, err := replies.NextMsg(5 * time.Second)
		if err != nil || string(msg.Data) != "done" {
			t.Fatalf("reply %d: %v %v, want done", i, msg, err)
		}
	}
}

// A handler that ignores its cancelled context cannot hold Stop past its
// ctx (and abandonAfter); Stop says it left the request behind.
func TestStopIsBoundedByItsContext(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := NewServer(srv.Connect(t), ServerConfig{Name: "stuck-svc", Version: "1.0.0", SubjectPrefix: "k", Noun: "thing", UnknownCode: "unknown_thing"})
	entered, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	if err := s.Add(Route{Subject: "k.stuck", Name: "stuck", Handle: func(context.Context, Request) Response {
		close(entered)
		<-release
		return Response{Body: []byte("late")}
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Connect(t).PublishRequest("k.stuck", "_INBOX.none", nil); err != nil {
		t.Fatal(err)
	}
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Stop(ctx)
	if took := time.Since(start); took > 100*time.Millisecond+abandonAfter+time.Second {
		t.Fatalf("Stop took %s", took)
	}
	if err == nil || !strings.Contains(err.Error(), "1 requests still running") {
		t.Fatalf("stop with a stuck handler: %v", err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
