package rpc_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/internal/rpc"
)

func TestServerRoutesRecoversAndNamesUnknownSubjects(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := rpc.NewServer(srv.Connect(t), rpc.ServerConfig{
		Name: "test-svc", Version: "1.0.0", SubjectPrefix: "t", Noun: "thing", UnknownCode: "unknown_thing", Concurrency: 4,
	})
	slow, entered := make(chan struct{}), make(chan struct{})
	routes := []rpc.Route{
		{Subject: "t.echo", Name: "echo", Handle: func(_ context.Context, req rpc.Request) rpc.Response {
			return rpc.Response{Body: req.Data}
		}},
		{Subject: "t.boom", Name: "boom", Handle: func(context.Context, rpc.Request) rpc.Response { panic("boom") }},
		{Subject: "t.slow", Name: "slow", Handle: func(context.Context, rpc.Request) rpc.Response {
			close(entered)
			<-slow
			return rpc.Response{Body: []byte("done")}
		}},
	}
	for _, r := range routes {
		if err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(routes[0]); err == nil {
		t.Fatal("a subject added twice must be refused")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	client := srv.Connect(t)
	ask := func(subject string) (string, *rpc.Error) {
		msg, err := client.Request(subject, []byte("hi"), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		return string(msg.Data), rpc.ParseErrorReply(msg)
	}
	if body, e := ask("t.echo"); e != nil || body != "hi" {
		t.Fatalf("echo: %q %v", body, e)
	}
	if _, e := ask("t.boom"); e == nil || e.Status != 500 {
		t.Fatalf("panic: %v", e)
	}
	if body, e := ask("t.echo"); e != nil || body != "hi" {
		t.Fatalf("after a panic: %q %v", body, e)
	}
	if _, e := ask("t.nope"); e == nil || e.Status != 404 || e.Code != "unknown_thing" || !strings.Contains(e.Message, "t.echo") {
		t.Fatalf("unknown subject: %+v", e)
	}
	if err := s.Add(rpc.Route{Subject: "t.late"}); err == nil {
		t.Fatal("adding after Start must be refused")
	}

	// Stop waits for a request in flight and answers it.
	reply := make(chan string, 1)
	go func() {
		msg, err := client.Request("t.slow", nil, 5*time.Second)
		if err != nil {
			reply <- err.Error()
			return
		}
		reply <- string(msg.Data)
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned with a request in flight: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(slow)
	if err := <-stopped; err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := <-reply; got != "done" {
		t.Fatalf("in-flight request got %q", got)
	}
}
