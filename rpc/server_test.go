package rpc_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/rpc"
	"github.com/jetflow/jetflow/wire"
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
	// Requests are routed by their exact subject, so a route must be one.
	echo := routes[0].Handle
	for _, bad := range []rpc.Route{
		{Subject: "t.*", Name: "star", Handle: echo},
		{Subject: "t.a.>", Name: "tail", Handle: echo},
		{Subject: "other.echo", Name: "outside", Handle: echo},
		{Subject: "t", Name: "prefix", Handle: echo},
		{Subject: "t..x", Name: "empty", Handle: echo},
		{Subject: "t.a b", Name: "space", Handle: echo},
		{Subject: "t.nohandler", Name: "nohandler"},
	} {
		err := s.Add(bad)
		if err == nil || !strings.Contains(err.Error(), bad.Subject) {
			t.Fatalf("Add(%q) = %v, want a refusal naming the subject", bad.Subject, err)
		}
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	client := srv.Connect(t)
	ask := func(subject string) (string, *wire.Error) {
		msg, err := client.Request(subject, []byte("hi"), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		return string(msg.Data), wire.ParseErrorReply(msg)
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

// `nats micro stats` must show what the endpoints really did: micro's own
// counters stop at the hand-off to the pool, so the service's figures ride
// in each endpoint's data.
func TestServerStatsReachMicroStats(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	s := rpc.NewServer(srv.Connect(t), rpc.ServerConfig{
		Name: "stats-svc", Version: "1.0.0", SubjectPrefix: "st", Noun: "thing", UnknownCode: "unknown_thing",
	})
	err := s.Add(rpc.Route{Subject: "st.check", Name: "check", Handle: func(_ context.Context, req rpc.Request) rpc.Response {
		if string(req.Data) == "bad" {
			return rpc.Response{Err: wire.Errorf(400, "validation", "bad input")}
		}
		time.Sleep(2 * time.Millisecond)
		return rpc.Response{Body: []byte("ok")}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	client := srv.Connect(t)
	for _, body := range []string{"good", "bad", "good", "bad", "bad"} {
		if _, err := client.Request("st.check", []byte(body), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	msg, err := client.Request("$SRV.STATS.stats-svc", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var stats micro.Stats
	if err := json.Unmarshal(msg.Data, &stats); err != nil {
		t.Fatalf("stats reply %s: %v", msg.Data, err)
	}
	if len(stats.Endpoints) != 1 {
		t.Fatalf("endpoints: %+v", stats.Endpoints)
	}
	var got rpc.EndpointStats
	if err := json.Unmarshal(stats.Endpoints[0].Data, &got); err != nil {
		t.Fatalf("endpoint data %s: %v", stats.Endpoints[0].Data, err)
	}
	if got.Handled != 5 || got.Errors != 3 || got.InFlight != 0 || got.LastError != "validation: bad input" {
		t.Fatalf("endpoint figures: %+v", got)
	}
	// Two requests slept 2 ms each in the handler.
	if got.ProcessingTime < 4*time.Millisecond || got.AverageProcessingTime != got.ProcessingTime/5 {
		t.Fatalf("processing time: %+v", got)
	}
	if direct := s.Stats()["st.check"]; direct != got {
		t.Fatalf("Stats() %+v differs from micro's %+v", direct, got)
	}
}

// A request whose reply subject is not an inbox is not handled and gets no
// answer: the answer would be published with the service's rights.
func TestRequestsWithAForeignReplySubjectAreRefused(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	called := make(chan struct{}, 4)
	s := rpc.NewServer(srv.Connect(t), rpc.ServerConfig{Name: "reply-svc", Version: "1.0.0", SubjectPrefix: "r", Noun: "thing", UnknownCode: "unknown_thing"})
	if err := s.Add(rpc.Route{Subject: "r.do", Name: "do", Handle: func(context.Context, rpc.Request) rpc.Response {
		called <- struct{}{}
		return rpc.Response{Body: []byte("done")}
	}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	client := srv.Connect(t)
	watch, err := client.SubscribeSync("events.>")
	if err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{"r.do", "r.unknown"} {
		if err := client.PublishRequest(subject, "events.user.mallory", nil); err != nil {
			t.Fatal(err)
		}
	}
	// An inbox reply still works, and comes after the refused ones.
	if msg, err := client.Request("r.do", nil, 5*time.Second); err != nil || string(msg.Data) != "done" {
		t.Fatalf("request with an inbox reply: %v %v", msg, err)
	}
	if m, err := watch.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("a reply went to %s: %s", m.Subject, m.Data)
	}
	if n := len(called); n != 1 {
		t.Fatalf("handler called %d times, want 1 (the inbox request only)", n)
	}
}
