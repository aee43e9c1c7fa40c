package processes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// env is an embedded server with the event store provisioned and a
// command service serving the ledger aggregate.
type env struct {
	srv   *natstest.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	store *streams.Store
	cfg   streams.Config
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, natstest.RunServer(t))
}

func newEnvOn(t *testing.T, srv *natstest.Server) *env {
	t.Helper()
	nc, js := srv.JetStream(t)
	cfg := streams.DefaultConfig()
	if err := streams.Provision(testCtx(t), js, cfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, nc: nc, js: js, store: store, cfg: cfg}
}

// restartable is a server on a store dir of the test's that can be
// stopped and started again.
func restartable(t *testing.T) (dir string, start func() *natstest.Server) {
	dir = t.TempDir()
	return dir, func() *natstest.Server {
		return natstest.RunServerWithConfig(t, natsserver.Config{StoreDir: dir})
	}
}

// appendEvent stores one event of a new aggregate typ/id.
func (e *env) appendEvent(t *testing.T, typ, id, eventType string, data any) streams.Event {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.store.Append(testCtx(t), typ, id, streams.Position{}, streams.Event{Type: eventType, Data: raw})
	if err != nil {
		t.Fatalf("append %s %s: %v", typ, id, err)
	}
	return res.Events[0]
}

// appendTo stores one more event of typ/id, whatever its position.
func (e *env) appendTo(t *testing.T, typ, id, eventType string, data any) streams.Event {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	for {
		var pos streams.Position
		for ev, err := range e.store.Load(testCtx(t), typ, id, 0) {
			if err != nil {
				t.Fatal(err)
			}
			pos = ev.Position()
		}
		res, err := e.store.Append(testCtx(t), typ, id, pos, streams.Event{Type: eventType, Data: raw})
		if errors.Is(err, streams.ErrConcurrencyConflict) {
			continue
		}
		if err != nil {
			t.Fatalf("append %s %s: %v", typ, id, err)
		}
		return res.Events[0]
	}
}

// ledger is the aggregate the tests' processes send commands to: each
// record command stores one ledger.recorded event.
type ledger struct{ Notes []string }

func (l *ledger) Apply(ev streams.Event) error {
	var d struct {
		Note string `json:"note"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return err
	}
	l.Notes = append(l.Notes, d.Note)
	return nil
}

type recordCmd struct {
	ID   string `json:"id"`
	Note string `json:"note"`
}

// serveLedger runs the command service with ledger.record on prefix "cmd".
func (e *env) serveLedger(t *testing.T) {
	t.Helper()
	svc, err := aggregates.NewService(e.nc, aggregates.ServiceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := streams.NewSnapshots(testCtx(t), e.js, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := aggregates.NewRepository("ledger", func() *ledger { return &ledger{} }, e.store, snaps)
	if err != nil {
		t.Fatal(err)
	}
	if err := aggregates.Register(svc, repo, aggregates.CommandSpec[*ledger, recordCmd]{
		Name:        "record",
		AggregateID: func(c *recordCmd) string { return c.ID },
		Decide: func(c recordCmd, _ *aggregates.Instance[*ledger]) ([]aggregates.Change, error) {
			return []aggregates.Change{{Type: "ledger.recorded", Data: map[string]string{"note": c.Note}}}, nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })
}

// ledgerNotes are the notes recorded on ledger id.
func (e *env) ledgerNotes(t *testing.T, id string) []string {
	t.Helper()
	var notes []string
	for ev, err := range e.store.Load(testCtx(t), "ledger", id, 0) {
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Note string `json:"note"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		notes = append(notes, d.Note)
	}
	return notes
}

// start runs a manager of def; t.Cleanup stops it.
func start[S any](t *testing.T, nc *nats.Conn, def Definition[S], cfg Config, opts ...Option) *Manager[S] {
	t.Helper()
	m, err := New(nc, def, cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop %s: %v", def.Name, err)
		}
	})
	return m
}

// eventually polls cond until it holds, or fails the test with what it says.
func eventually(t *testing.T, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, what := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after %s: %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// show reads an instance's record; ok false when there is none.
func show(t *testing.T, js jetstream.JetStream, bucket, id string) (Record, bool) {
	t.Helper()
	r, err := Show(testCtx(t), js, bucket, id)
	if errors.Is(err, ErrInstanceNotFound) {
		return Record{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

func stateOf[S any](t *testing.T, r Record) S {
	t.Helper()
	var s S
	if err := json.Unmarshal(r.State, &s); err != nil {
		t.Fatalf("state %s: %v", r.State, err)
	}
	return s
}

// logBuffer is a logger whose lines a test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// countMetrics counts what a manager reports.
type countMetrics struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countMetrics) inc(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k]++
}

func (c *countMetrics) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func (c *countMetrics) ProcessStarted(string)                          { c.inc("started") }
func (c *countMetrics) ProcessHandled(_, kind string, _ time.Duration) { c.inc("handled_" + kind) }
func (c *countMetrics) ProcessEnded(string)                            { c.inc("ended") }
func (c *countMetrics) ProcessFailed(string)                           { c.inc("failed") }
func (c *countMetrics) DeadlineFired(string)                           { c.inc("fired") }
func (c *countMetrics) StateConflict(string)                           { c.inc("conflict") }
func (c *countMetrics) MessageSkipped(_, reason string)                { c.inc("skipped_" + reason) }
