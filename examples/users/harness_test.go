package users_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// node is one jetflow process serving the User commands.
type node struct {
	p        *platform.Platform
	repo     *aggregates.Repository[*users.User]
	commands *aggregates.Service
}

func startNode(t *testing.T, url string, opts ...aggregates.RepositoryOption) *node {
	t.Helper()
	p, err := platform.Start(ctx(t), platform.Config{NATSURL: url, Streams: streams.DefaultConfig(), Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	repo, err := users.NewRepository(p.Store, p.Snapshots, opts...)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := aggregates.NewService(p.Conn, aggregates.ServiceConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := users.RegisterCommands(svc, repo); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Stop(context.Background()); err != nil {
			t.Errorf("stop command service: %v", err)
		}
	})
	return &node{p: p, repo: repo, commands: svc}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// client sends commands over NATS as any client would.
type client struct {
	t  *testing.T
	nc *nats.Conn
}

func newClient(t *testing.T, url string) *client {
	return &client{t: t, nc: natstest.Connect(t, url)}
}

type reply struct {
	ok  wire.CommandReply
	err *wire.Error
}

func (c *client) send(subject string, body any, headers map[string]string) reply {
	c.t.Helper()
	msg := nats.NewMsg(subject)
	switch b := body.(type) {
	case string:
		msg.Data = []byte(b)
	case []byte:
		msg.Data = b
	default:
		msg.Data, _ = json.Marshal(b)
	}
	for k, v := range headers {
		msg.Header.Set(k, v)
	}
	resp, err := c.nc.RequestMsg(msg, 20*time.Second)
	if err != nil {
		c.t.Fatalf("request %s: %v", subject, err)
	}
	if e := wire.ParseErrorReply(resp); e != nil {
		return reply{err: e}
	}
	var r reply
	if err := json.Unmarshal(resp.Data, &r.ok); err != nil {
		c.t.Fatalf("reply %s: %q: %v", subject, resp.Data, err)
	}
	return r
}

func (c *client) mustSend(subject string, body any, headers map[string]string) wire.CommandReply {
	c.t.Helper()
	r := c.send(subject, body, headers)
	if r.err != nil {
		c.t.Fatalf("%s: error %+v", subject, r.err)
	}
	return r.ok
}

func (c *client) create(name string) wire.CommandReply {
	c.t.Helper()
	return c.mustSend("cmd.user.create", map[string]string{"username": name, "email": name + "@example.com"}, nil)
}

func expect(v uint64) map[string]string {
	return map[string]string{wire.HeaderExpectedVersion: strconv.FormatUint(v, 10)}
}

func eventsOf(t *testing.T, n *node, id string) []streams.Event {
	t.Helper()
	var out []streams.Event
	for ev, err := range n.p.Store.Load(ctx(t), users.AggregateType, id, 0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func streamLastSeq(t *testing.T, n *node) uint64 {
	t.Helper()
	st, err := n.p.JS.Stream(ctx(t), streams.DefaultEventStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// readSide is a node's read side: the users projection runner, the users
// view and the query service.
type readSide struct {
	cfg     projections.Config
	runner  *projections.Runner
	view    *users.View
	queries *projections.QueryService
}

// testProjectionConfig keeps leases and status reports short so tests of
// takeovers and states do not wait on production defaults.
func testProjectionConfig() projections.Config {
	return projections.Config{Streams: streams.DefaultConfig(), LeaseTTL: 2 * time.Second, StatusInterval: 100 * time.Millisecond}
}

// startReadSide runs the users projection, view and queries on n's connection.
func startReadSide(t *testing.T, n *node) *readSide {
	t.Helper()
	rs := &readSide{cfg: testProjectionConfig()}
	var err error
	if rs.runner, err = projections.NewRunner(n.p.Conn, rs.cfg, []projections.Projection{users.Projection(rs.cfg.Streams)}); err != nil {
		t.Fatal(err)
	}
	if err := rs.runner.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rs.runner.Stop(context.Background()); err != nil {
			t.Errorf("stop runner: %v", err)
		}
	})
	if rs.view, err = users.NewView(n.p.Conn, rs.cfg); err != nil {
		t.Fatal(err)
	}
	if err := rs.view.Start(ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.view.Stop(context.Background()) })
	if err := rs.view.WaitLoaded(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if rs.queries, err = projections.NewQueryService(n.p.Conn, projections.QueryConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := users.RegisterQueries(rs.queries, rs.view); err != nil {
		t.Fatal(err)
	}
	if err := rs.queries.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rs.queries.Stop(context.Background()); err != nil {
			t.Errorf("stop query service: %v", err)
		}
	})
	return rs
}

// query sends a query and decodes a success into out; it returns the
// error reply, if any.
func (c *client) query(subject string, body any, out any) *wire.Error {
	c.t.Helper()
	msg := nats.NewMsg(subject)
	switch b := body.(type) {
	case string:
		msg.Data = []byte(b)
	default:
		msg.Data, _ = json.Marshal(b)
	}
	resp, err := c.nc.RequestMsg(msg, 20*time.Second)
	if err != nil {
		c.t.Fatalf("query %s: %v", subject, err)
	}
	if e := wire.ParseErrorReply(resp); e != nil {
		return e
	}
	if out != nil {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			c.t.Fatalf("reply %s: %q: %v", subject, resp.Data, err)
		}
	}
	return nil
}
