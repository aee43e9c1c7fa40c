package aggregates_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

type signUp struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

func (s *signUp) Validate() error {
	if !strings.Contains(s.Email, ".") {
		return aggregates.Invalid("email %q is not valid", s.Email)
	}
	return nil
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A refusal's message is the client's: it goes back in the reply and may
// quote what the client sent (an email that does not validate). The
// service's Info line says that and why in codes, not the text.
func TestRefusalsLogNoClientInput(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc, js := srv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	scfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, scfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, scfg)
	if err != nil {
		t.Fatal(err)
	}
	var _ jetstream.JetStream = js
	repo, err := aggregates.NewRepository("counter", func() *counter { return &counter{} }, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuf
	svc, err := aggregates.NewService(nc, aggregates.ServiceConfig{}, aggregates.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := aggregates.Register(svc, repo, aggregates.CommandSpec[*counter, signUp]{
		Name: "signup", AggregateID: func(c *signUp) string { return c.ID },
		Decide: func(signUp, *aggregates.Instance[*counter]) ([]aggregates.Change, error) { return nil, nil },
	}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	resp, err := srv.Connect(t).Request("cmd.counter.signup", []byte(`{"id":"s1","email":"janedoe@example"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e := wire.ParseErrorReply(resp); e == nil || !strings.Contains(e.Message, "janedoe@example") {
		t.Fatalf("reply %v: the client is told what was wrong", e)
	}
	out := logs.String()
	if !strings.Contains(out, "command refused") || !strings.Contains(out, "code=validation") {
		t.Fatalf("no refusal logged:\n%s", out)
	}
	if strings.Contains(out, "janedoe@example") {
		t.Fatalf("the Info log quotes the client's input:\n%s", out)
	}
}
