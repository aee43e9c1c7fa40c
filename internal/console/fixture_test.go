package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/internal/observability"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// The handler tests run the console over a real embedded server with a
// small domain of its own: a "note" aggregate (command note.write), a
// "notes" projection whose handler refuses events marked poison (so that
// it can be failed, skipped and resumed), a topic "jobs" whose worker
// refuses a message until it is replayed (so that it dead-letters), and
// the process's metrics.

// note is the test aggregate's state.
type note struct {
	Text string `json:"text"`
}

func (n *note) Apply(ev streams.Event) error {
	var d struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return err
	}
	n.Text = d.Text
	return nil
}

type writeNote struct {
	ID     string `json:"id"`
	Text   string `json:"text"`
	Poison bool   `json:"poison,omitempty"`
}

func (w *writeNote) Validate() error {
	if w.Text == "" {
		return aggregates.Invalid("text is required")
	}
	return nil
}

// syncBuffer collects the console's log lines.
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

type fixture struct {
	t      *testing.T
	c      *Console
	srv    *httptest.Server
	http   *http.Client
	nc     *nats.Conn
	js     jetstream.JetStream
	store  *streams.Store
	runner *projections.Runner
	pub    *consumers.Publisher
	logs   *syncBuffer
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newFixture starts the server, the domain and the console with cfg.
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ctx := testCtx(t)
	s := natstest.RunServer(t)
	nc, js := s.JetStream(t)
	scfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, scfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, scfg)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := streams.NewSnapshots(ctx, js, scfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg, m := observability.NewRegistry()

	svc, err := aggregates.NewService(nc, aggregates.ServiceConfig{}, aggregates.WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	repo, err := aggregates.NewRepository("note", func() *note { return &note{} }, store, snaps, aggregates.WithSnapshotEvery(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := aggregates.Register(svc, repo, aggregates.CommandSpec[*note, writeNote]{
		Name: "write", AggregateID: func(c *writeNote) string { return c.ID },
		Decide: func(c writeNote, _ *aggregates.Instance[*note]) ([]aggregates.Change, error) {
			return []aggregates.Change{{Type: "note.written", Data: c}}, nil
		},
	}); err != nil {
		t.Fatal(err)
	}
	startStop(t, svc)

	pcfg := projections.Config{Streams: scfg, Retries: -1, StatusInterval: 50 * time.Millisecond, LeaseTTL: 2 * time.Second}
	proj := projections.Projection{Name: "notes", Subjects: []string{"events.note.>"}, Handler: projections.JSONHandler[note]{
		KeyOf: func(ev streams.Event) (string, error) { return ev.AggregateID, nil },
		Evolve: func(_ context.Context, ev streams.Event, n *note) (*note, error) {
			var d writeNote
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return nil, err
			}
			if d.Poison {
				return nil, errors.New("poison: this note cannot be projected")
			}
			return &note{Text: d.Text}, nil
		},
	}}
	runner, err := projections.NewRunner(nc, pcfg, []projections.Projection{proj})
	if err != nil {
		t.Fatal(err)
	}
	startStop(t, runner)

	dlq := consumers.DLQConfig{}
	if _, err := consumers.EnsureDLQ(ctx, js, dlq); err != nil {
		t.Fatal(err)
	}
	if _, err := consumers.EnsureTopic(ctx, js, consumers.TopicConfig{Name: "jobs"}); err != nil {
		t.Fatal(err)
	}
	w, err := consumers.NewWorker(js, consumers.Subscription{Name: "runner", Topic: "jobs", MaxRetries: consumers.NoRetries,
		Handler: func(_ context.Context, m *consumers.Message) error {
			if m.Header().Get(wire.HeaderReplayedFrom) == "" {
				return consumers.Permanent(fmt.Errorf("job %s refused: <b>not yet</b>", m.Data()))
			}
			return nil
		}}, consumers.WithDLQ(dlq))
	if err != nil {
		t.Fatal(err)
	}
	startStop(t, w)

	c, err := New(cfg, Deps{
		Conn: nc, JetStream: js, Store: store, Snapshots: snaps, Commands: svc,
		Projections: []projections.Projection{proj}, ProjectionsConfig: pcfg,
		Processes: []ProcessInfo{{Name: "reminder", Bucket: "proc_reminder"}},
		DLQStream: "DLQ", Gatherer: reg, Logger: log,
		Checks: []Check{{Name: "nats", Check: func(context.Context) error { return nil }}},
		NATS:   NATSInfo{Embedded: true, URL: s.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Stop(sctx); err != nil {
			t.Errorf("console stop: %v", err)
		}
	})
	mux := http.NewServeMux()
	mux.Handle(basePath, c.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &fixture{t: t, c: c, srv: srv, http: hc, nc: nc, js: js, store: store, runner: runner, pub: consumers.NewPublisher(js), logs: logs}
}

func startStop(t *testing.T, c interface {
	Start(context.Context) error
	Stop(context.Context) error
}) {
	t.Helper()
	if err := c.Start(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Stop(ctx)
	})
}

// response is what a request got.
type response struct {
	status int
	body   string
	header http.Header
}

func (f *fixture) do(req *http.Request) response {
	f.t.Helper()
	resp, err := f.http.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}
}

func (f *fixture) get(path string, headers ...string) response {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return f.do(req)
}

// post sends form as a browser does; the CSRF token is added unless the
// form has one (an empty one stays out).
func (f *fixture) post(path string, form url.Values, headers ...string) response {
	f.t.Helper()
	if _, ok := form[fieldCSRF]; !ok {
		form.Set(fieldCSRF, f.csrf())
	} else if form.Get(fieldCSRF) == "" {
		form.Del(fieldCSRF)
	}
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return f.do(req)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token a page of the console hands its forms.
func (f *fixture) csrf(headers ...string) string {
	f.t.Helper()
	r := f.get(basePath+"commands", headers...)
	m := csrfInput.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		f.t.Fatalf("no CSRF token on the commands page (%d): %s", r.status, r.body)
	}
	return m[1]
}

// send runs note.write through the command service, as a client would.
func (f *fixture) send(id, text string, poison bool) wire.CommandReply {
	f.t.Helper()
	body, _ := json.Marshal(writeNote{ID: id, Text: text, Poison: poison})
	msg, err := f.nc.RequestWithContext(testCtx(f.t), "cmd.note.write", body)
	if err != nil {
		f.t.Fatal(err)
	}
	var reply wire.CommandReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.AggregateID != id {
		f.t.Fatalf("note.write %s: %s (%v)", id, msg.Data, err)
	}
	return reply
}

// waitFor polls cond until it holds, failing after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deadLetter publishes a job the worker refuses and returns its dead
// letter's id.
func (f *fixture) deadLetter(data string) uint64 {
	f.t.Helper()
	dlq := consumers.NewDLQ(f.js, consumers.DLQConfig{})
	before, err := dlq.List(testCtx(f.t), consumers.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.pub.Publish(testCtx(f.t), "jobs", consumers.Outgoing{Key: "job.run", Data: []byte(data)}); err != nil {
		f.t.Fatal(err)
	}
	var id uint64
	waitFor(f.t, "the dead letter", func() bool {
		list, err := dlq.List(testCtx(f.t), consumers.ListOptions{})
		if err == nil && len(list) > len(before) {
			id = list[len(list)-1].ID
			return true
		}
		return false
	})
	return id
}
