package aggregates_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/logctx"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// counter is a minimal aggregate for testing the generic machinery.
type counter struct {
	Value int `json:"value"`
}

func (c *counter) Apply(ev streams.Event) error {
	var d struct{ By int }
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return err
	}
	c.Value += d.By
	return nil
}

type add struct {
	ID string `json:"id"`
	By int    `json:"by"`
}

func setup(t *testing.T) (*nats.Conn, *aggregates.Repository[*counter], *aggregates.Service, *streams.Store) {
	t.Helper()
	srv := natstest.RunServer(t)
	nc, js := srv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := aggregates.NewRepository("counter", func() *counter { return &counter{} }, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := aggregates.NewService(nc, aggregates.ServiceConfig{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	decide := func(c add, inst *aggregates.Instance[*counter]) ([]aggregates.Change, error) {
		if c.By == 13 {
			panic("unlucky number")
		}
		if c.By == 0 {
			return nil, aggregates.Invalid("by must not be 0")
		}
		return []aggregates.Change{{Type: "counter.added", Data: map[string]int{"by": c.By}}}, nil
	}
	if err := aggregates.Register(svc, repo, aggregates.CommandSpec[*counter, add]{
		Name: "add", AggregateID: func(c *add) string { return c.ID }, Decide: decide,
	}); err != nil {
		t.Fatal(err)
	}
	if err := aggregates.Register(svc, repo, aggregates.CommandSpec[*counter, add]{
		Name: "add", AggregateID: func(c *add) string { return c.ID }, Decide: decide,
	}); err == nil {
		t.Fatal("registering a command twice must fail")
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
	return natstest.Connect(t, srv.URL), repo, svc, store
}

func call(t *testing.T, nc *nats.Conn, body string) (*wire.CommandReply, *wire.Error) {
	t.Helper()
	msg, err := nc.Request("cmd.counter.add", []byte(body), 5*time.Second)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if e := wire.ParseErrorReply(msg); e != nil {
		return nil, e
	}
	var r wire.CommandReply
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		t.Fatal(err)
	}
	return &r, nil
}

func TestPanickingHandlerAnswers500AndServiceKeepsRunning(t *testing.T) {
	t.Parallel()
	nc, repo, _, _ := setup(t)
	if _, e := call(t, nc, `{"id":"c1","by":13}`); e == nil || e.Status != 500 || e.Code != "internal" {
		t.Fatalf("panic reply: %+v", e)
	}
	for i := range 3 {
		r, e := call(t, nc, `{"id":"c1","by":2}`)
		if e != nil || r.Version != uint64(i+1) {
			t.Fatalf("after panic: %+v %+v", r, e)
		}
	}
	inst, err := repo.Load(context.Background(), "c1")
	if err != nil || inst.State.Value != 6 {
		t.Fatalf("state %+v %v", inst, err)
	}
	if _, e := call(t, nc, `{"id":"c1","by":0}`); e == nil || e.Status != 400 || e.Message != "by must not be 0" {
		t.Fatalf("domain error reply: %+v", e)
	}
}

func TestExpectedVersionAgainstStaleCacheIsCheckedOnAFreshLoad(t *testing.T) {
	t.Parallel()
	_, repo, _, store := setup(t)
	ctx := context.Background()
	one := func(inst *aggregates.Instance[*counter]) ([]aggregates.Change, error) {
		return []aggregates.Change{{Type: "counter.added", Data: map[string]int{"by": 1}}}, nil
	}
	if _, err := repo.Execute(ctx, "c2", aggregates.Command{ID: "a"}, one); err != nil {
		t.Fatal(err)
	}
	// Another process appends behind this repository's cache.
	if _, err := store.Append(ctx, "counter", "c2", streams.Position{Sequence: 1, Version: 1}, streams.Event{Type: "counter.added", Data: []byte(`{"by":10}`)}); err != nil {
		t.Fatal(err)
	}
	v := uint64(2)
	out, err := repo.Execute(ctx, "c2", aggregates.Command{ID: "b", ExpectedVersion: &v}, one)
	if err != nil || out.Version != 3 {
		t.Fatalf("expected version 2 is right after a reload: %+v %v", out, err)
	}
	v = 1
	_, err = repo.Execute(ctx, "c2", aggregates.Command{ID: "c", ExpectedVersion: &v}, one)
	var vm *aggregates.VersionMismatchError
	if !errors.As(err, &vm) || vm.Actual != 3 || !errors.Is(err, aggregates.ErrVersionMismatch) {
		t.Fatalf("stale expected version: %v", err)
	}
	inst, _ := repo.Load(ctx, "c2")
	if inst.State.Value != 12 {
		t.Fatalf("value %d, want 12", inst.State.Value)
	}
}

// Many commands naming the same expected version against a cache another
// process made stale: one is written, every other one is a 409 (never a
// 500), and the aggregate moves by exactly one event.
func TestConcurrentExpectedVersionsOnAStaleCacheAre409(t *testing.T) {
	t.Parallel()
	nc, _, _, store := setup(t)
	ctx := context.Background()
	for round := range 5 {
		id := fmt.Sprintf("cv-%d", round)
		r, e := call(t, nc, `{"id":"`+id+`","by":1}`)
		if e != nil {
			t.Fatal(e)
		}
		// Another process appends behind the service's cache.
		if _, err := store.Append(ctx, "counter", id, streams.Position{Sequence: r.Sequence, Version: 1},
			streams.Event{Type: "counter.added", Data: []byte(`{"by":10}`)}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				msg := nats.NewMsg("cmd.counter.add")
				msg.Data = []byte(`{"id":"` + id + `","by":1}`)
				msg.Header.Set(wire.HeaderExpectedVersion, "2")
				resp, err := nc.RequestMsg(msg, 5*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				status := 200
				if e := wire.ParseErrorReply(resp); e != nil {
					status = e.Status
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if statuses[200] != 1 || statuses[409] != 15 {
			t.Fatalf("round %d: reply statuses %v, want one 200 and fifteen 409", round, statuses)
		}
	}
}

// A command of several events resent after the aggregate stopped
// remembering its result is recognised by its commit's id: nothing is
// written again, and the resend gets the first run's reply (its commit's
// version and sequence). With atomic batches the server did not say where
// the first run was stored, and the resend was refused as already applied.
func TestResendOfAForgottenBatchCommandGetsItsFirstReply(t *testing.T) {
	t.Parallel()
	_, repo, _, _ := setup(t)
	ctx := context.Background()
	two := func(inst *aggregates.Instance[*counter]) ([]aggregates.Change, error) {
		return []aggregates.Change{{Type: "counter.added", Data: map[string]int{"by": 1}}, {Type: "counter.added", Data: map[string]int{"by": 2}}}, nil
	}
	one := func(inst *aggregates.Instance[*counter]) ([]aggregates.Change, error) {
		return []aggregates.Change{{Type: "counter.added", Data: map[string]int{"by": 1}}}, nil
	}
	first, err := repo.Execute(ctx, "b1", aggregates.Command{ID: "pair-1", Idempotent: true}, two)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 65 {
		if _, err := repo.Execute(ctx, "b1", aggregates.Command{ID: fmt.Sprint("other-", i)}, one); err != nil {
			t.Fatal(err)
		}
	}
	again, err := repo.Execute(ctx, "b1", aggregates.Command{ID: "pair-1", Idempotent: true}, two)
	if err != nil || !again.Duplicate || again.Version != 2 || again.Sequence != first.Sequence {
		t.Fatalf("resend of a forgotten two-event command: %+v %v, want the first reply (version 2, sequence %d)", again, err, first.Sequence)
	}
	if inst, _ := repo.Load(ctx, "b1"); inst.Position.Version != 67 || inst.State.Value != 68 {
		t.Fatalf("b1 at version %d value %d, want 67 and 68", inst.Position.Version, inst.State.Value)
	}
}

func TestStopWaitsForInFlightCommands(t *testing.T) {
	t.Parallel()
	nc, _, svc, _ := setup(t)
	done := make(chan error, 1)
	go func() {
		_, err := nc.Request("cmd.counter.add", []byte(`{"id":"c3","by":1}`), 5*time.Second)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := svc.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := <-done; err != nil && !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("in-flight command: %v", err)
	}
}

func TestEveryLogLineOfACommandCarriesItsCorrelationID(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc, js := srv.JetStream(t)
	ctx := context.Background()
	cfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	var buf syncBuffer
	log := slog.New(logctx.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	store, _ := streams.NewStore(js, cfg)
	repo, _ := aggregates.NewRepository("counter", func() *counter { return &counter{} }, store, nil, aggregates.WithLogger(log))
	svc, _ := aggregates.NewService(nc, aggregates.ServiceConfig{}, aggregates.WithLogger(log))
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(aggregates.Register(svc, repo, aggregates.CommandSpec[*counter, add]{
		Name: "add", AggregateID: func(c *add) string { return c.ID },
		Decide: func(c add, inst *aggregates.Instance[*counter]) ([]aggregates.Change, error) {
			if c.By < 0 {
				return nil, aggregates.Invalid("by must be positive")
			}
			return []aggregates.Change{{Type: "counter.added", Data: c}}, nil
		},
	}))
	must(svc.Start(context.Background()))
	t.Cleanup(func() { _ = svc.Stop(ctx) })
	client := natstest.Connect(t, srv.URL)
	for i, body := range []string{`{"id":"x","by":1}`, `{"id":"x","by":-1}`} {
		msg := nats.NewMsg("cmd.counter.add")
		msg.Data = []byte(body)
		msg.Header.Set(wire.HeaderCorrelationID, fmt.Sprintf("corr-%d", i))
		if _, err := client.RequestMsg(msg, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("expected a log line per command, got %q", buf.String())
	}
	for _, line := range lines {
		if !strings.Contains(line, "correlation_id=corr-") {
			t.Errorf("log line without correlation id: %s", line)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
