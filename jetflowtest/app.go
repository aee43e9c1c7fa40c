package jetflowtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/wire"
)

// DefaultWait bounds how long the harness waits for an app to start and
// for a projection to catch up: generous, because CI machines are slow.
const DefaultWait = 60 * time.Second

// RunningApp is a registered jetflow.App serving in a test, as `serve`
// would run it, on its own embedded server.
type RunningApp struct {
	t       testing.TB
	started jetflow.Started
	nc      *nats.Conn
	client  *client.Client
	admin   *projections.Admin
	js      jetstream.JetStream
}

// RunApp runs app until the test ends, the way `jetflow serve` runs it:
// on an embedded JetStream server of its own on a random loopback port,
// with a temporary store directory, no metrics listener, no
// configuration file and only errors logged. opts come after these
// defaults, so WithSetting can change any of them (metrics.listen, a
// projection's retries) or point the app at a server of the test's own
// (nats.url). The test fails at once if the app does not start; at the
// end of the test the app is stopped and must stop cleanly.
func RunApp(t testing.TB, app *jetflow.App, opts ...jetflow.RunOption) *RunningApp {
	t.Helper()
	ready := make(chan jetflow.Started, 1)
	all := append([]jetflow.RunOption{
		jetflow.WithConfigFile(""),
		jetflow.WithSetting("server.listen", "127.0.0.1:-1"),
		jetflow.WithSetting("server.store_dir", t.TempDir()),
		jetflow.WithSetting("metrics.listen", ""),
		jetflow.WithSetting("log.level", "error"),
	}, opts...)
	all = append(all, jetflow.OnReady(func(s jetflow.Started) { ready <- s }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, all...) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("jetflowtest: app stopped with an error: %v", err)
		}
	}
	var started jetflow.Started
	select {
	case started = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("jetflowtest: app ended before it was ready: %v", err)
	case <-time.After(DefaultWait):
		cancel()
		t.Fatalf("jetflowtest: app not ready after %s", DefaultWait)
	}
	// Registered after the app's own cleanups (t.TempDir), so it runs
	// first: the app stops before its store directory is removed.
	t.Cleanup(stop)
	nc, err := nats.Connect(started.NATSURL, nats.Name("jetflowtest"))
	if err != nil {
		t.Fatalf("jetflowtest: connect to the app's server %s: %v", started.NATSURL, err)
	}
	t.Cleanup(nc.Close)
	admin, err := projections.NewAdmin(context.Background(), nc, projections.Config{})
	if err != nil {
		t.Fatalf("jetflowtest: projections admin: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetflowtest: %v", err)
	}
	return &RunningApp{t: t, started: started, nc: nc, client: client.New(nc), admin: admin, js: js}
}

// Started says where the app can be reached: its NATS URL, and its
// metrics address when metrics.listen was set.
func (a *RunningApp) Started() jetflow.Started { return a.started }

// URL is the NATS URL the app serves on.
func (a *RunningApp) URL() string { return a.started.NATSURL }

// Conn is the harness's own connection to the app's server, closed when
// the test ends.
func (a *RunningApp) Conn() *nats.Conn { return a.nc }

// JetStream is JetStream over Conn, for what a test reads or writes
// itself: topics, buckets, streams.
func (a *RunningApp) JetStream() jetstream.JetStream { return a.js }

// Client sends commands and queries to the app over NATS, as any client
// of it would.
func (a *RunningApp) Client() *client.Client { return a.client }

// Send sends a command named "<aggregate type>.<command>" (as `jetflow
// send` names it, e.g. "order.place"). body is JSON ([]byte, a string of
// JSON or json.RawMessage, sent as is) or a value to marshal. A refusal
// is returned as a *wire.Error: check it with errors.Is(err,
// wire.ErrConflict) and the like.
func (a *RunningApp) Send(command string, body any, opts ...client.CommandOption) (wire.CommandReply, error) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultWait)
	defer cancel()
	return a.client.Send(ctx, command, asJSON(body), opts...)
}

// MustSend is Send for a command the test expects to succeed: any error
// fails the test at once.
func (a *RunningApp) MustSend(command string, body any, opts ...client.CommandOption) wire.CommandReply {
	a.t.Helper()
	reply, err := a.Send(command, body, opts...)
	if err != nil {
		a.t.Fatalf("jetflowtest: send %s: %v", command, err)
	}
	return reply
}

// Query runs a query named "<read model>.<query>" (as `jetflow query`
// names it, e.g. "orders.by_customer") and decodes its reply into out, a
// pointer (nil to discard it). Set the request's min_sequence to a
// command reply's Sequence to read your own writes.
func (a *RunningApp) Query(query string, req, out any) error {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultWait)
	defer cancel()
	_, err := a.client.Query(ctx, query, asJSON(req), out)
	return err
}

// WaitCaughtUp waits until the projection named name has applied every
// event of its subjects stored so far, and fails the test with the
// projection's state when it has not within DefaultWait (a failed
// projection never catches up: the failure names the event).
func (a *RunningApp) WaitCaughtUp(name string) projections.Report {
	a.t.Helper()
	deadline := time.Now().Add(DefaultWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rep, err := a.admin.Report(ctx, name)
		cancel()
		if err == nil && rep.Active.ConsumerExists && rep.Active.Pending == 0 {
			return rep
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("jetflowtest: projection %s not caught up after %s: %s", name, DefaultWait, describeReport(rep, err))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func describeReport(rep projections.Report, err error) string {
	if err != nil {
		return err.Error()
	}
	g := rep.Active
	s := fmt.Sprintf("generation %d, checkpoint %d, %d pending", g.Number, g.AckFloor, g.Pending)
	if !g.ConsumerExists {
		s = fmt.Sprintf("generation %d has not started", g.Number)
	}
	if g.Status != nil {
		s += fmt.Sprintf(", state %s", g.Status.State)
		if g.Status.Error != "" {
			s += ": " + g.Status.Error
		}
	}
	return s
}

// asJSON sends a string as the JSON it holds rather than as a JSON string.
func asJSON(v any) any {
	if s, ok := v.(string); ok {
		return []byte(s)
	}
	return v
}
