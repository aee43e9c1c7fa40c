package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/wire"
)

// service answers requests on subject as a jetflow service would: got
// receives each request, reply builds the answer.
func service(t *testing.T, nc *nats.Conn, subject string, reply func(req *nats.Msg) *nats.Msg) <-chan *nats.Msg {
	t.Helper()
	got := make(chan *nats.Msg, 10)
	_, err := nc.Subscribe(subject, func(m *nats.Msg) {
		got <- m
		if r := reply(m); r != nil {
			_ = m.RespondMsg(r)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return got
}

func body(data string) func(*nats.Msg) *nats.Msg {
	return func(req *nats.Msg) *nats.Msg {
		m := nats.NewMsg(req.Reply)
		m.Data = []byte(data)
		return m
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSend(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	const reply = `{"aggregate_id":"o-1","version":2,"sequence":7,"duplicate":true}`
	got := service(t, nc, "shop.order.place", body(reply))
	c := client.New(nc, client.WithCommandPrefix("shop"))

	ctx := wire.WithTraceParent(ctxFor(t), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	r, err := c.Send(ctx, "order.place", map[string]int{"lines": 2}, client.CommandID("c-1"), client.CorrelationID("k-1"),
		client.UserID("u-1"), client.ExpectedVersion(0))
	if err != nil {
		t.Fatal(err)
	}
	if want := (wire.CommandReply{AggregateID: "o-1", Version: 2, Sequence: 7, Duplicate: true}); r != want {
		t.Errorf("reply %+v, want %+v", r, want)
	}
	req := <-got
	if string(req.Data) != `{"lines":2}` {
		t.Errorf("body %s", req.Data)
	}
	for name, want := range map[string]string{
		wire.HeaderCommandID: "c-1", wire.HeaderCorrelationID: "k-1", wire.HeaderUserID: "u-1",
		wire.HeaderExpectedVersion: "0", wire.HeaderTraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	} {
		if v := req.Header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}

	// Raw bodies go as they are, empty options set no header, and SendRaw
	// returns the reply as the service wrote it.
	raw, err := c.SendRaw(ctxFor(t), "order.place", json.RawMessage(`{ "lines" : 1 }`), client.CommandID(""))
	if err != nil || string(raw) != reply {
		t.Fatalf("SendRaw = %s, %v", raw, err)
	}
	req = <-got
	if string(req.Data) != `{ "lines" : 1 }` || req.Header.Get(wire.HeaderCommandID) != "" || req.Header.Get(wire.HeaderTraceParent) != "" {
		t.Errorf("request %s %v", req.Data, req.Header)
	}
}

func TestSendDefaultPrefixAndBadReply(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	service(t, nc, "cmd.order.place", body(`not json`))
	_, err := client.New(nc).Send(ctxFor(t), "order.place", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "reply of cmd.order.place") {
		t.Fatalf("Send with an undecodable reply: %v", err)
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	got := service(t, nc, "q.orders.by_customer", func(req *nats.Msg) *nats.Msg {
		m := nats.NewMsg(req.Reply)
		m.Header.Set(wire.HeaderSequence, "42")
		m.Data = []byte(`{"items":[{"id":"o-1"}],"total":1}`)
		return m
	})
	c := client.New(nc, client.WithQueryPrefix("q"))

	var out struct {
		Items []struct{ ID string } `json:"items"`
		Total int                   `json:"total"`
	}
	applied, err := c.Query(ctxFor(t), "orders.by_customer", map[string]string{"customer": "c-1"}, &out)
	if err != nil || applied != 42 || out.Total != 1 || out.Items[0].ID != "o-1" {
		t.Fatalf("Query = %d %+v %v", applied, out, err)
	}
	if req := <-got; string(req.Data) != `{"customer":"c-1"}` {
		t.Errorf("request %s", req.Data)
	}

	var raw json.RawMessage
	if _, err := c.Query(ctxFor(t), "orders.by_customer", nil, &raw); err != nil || string(raw) != `{"items":[{"id":"o-1"}],"total":1}` {
		t.Fatalf("Query into a RawMessage = %s, %v", raw, err)
	}
	if req := <-got; string(req.Data) != `{}` {
		t.Errorf("a nil request sent %s, want {}", req.Data)
	}
	if _, err := c.Query(ctxFor(t), "orders.by_customer", nil, nil); err != nil {
		t.Errorf("Query discarding the reply: %v", err)
	}
}

// An error reply is a *wire.Error matched by its kind.
func TestErrorReplies(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	tests := []struct {
		status int
		code   string
		kind   error
	}{
		{wire.StatusInvalid, wire.CodeValidation, wire.ErrInvalid},
		{wire.StatusNotFound, wire.CodeNotFound, wire.ErrNotFound},
		{wire.StatusConflict, wire.CodeConflict, wire.ErrConflict},
		{wire.StatusTimeout, wire.CodeBehind, wire.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()
			subject := "err" + tt.code
			service(t, nc, "cmd."+subject+".do", func(req *nats.Msg) *nats.Msg {
				return wire.Errorf(tt.status, tt.code, "refused: %d", tt.status).Reply(req.Reply)
			})
			service(t, nc, "query."+subject+".get", func(req *nats.Msg) *nats.Msg {
				return wire.Errorf(tt.status, tt.code, "refused: %d", tt.status).Reply(req.Reply)
			})
			c := client.New(nc)
			_, sendErr := c.Send(ctxFor(t), subject+".do", []byte(`{}`))
			_, queryErr := c.Query(ctxFor(t), subject+".get", nil, nil)
			for _, err := range []error{sendErr, queryErr} {
				e, ok := errors.AsType[*wire.Error](err)
				if !ok || e.Status != tt.status || e.Code != tt.code || e.Message != fmt.Sprintf("refused: %d", tt.status) {
					t.Errorf("error %#v, want a *wire.Error %d %s", err, tt.status, tt.code)
				}
				if !errors.Is(err, tt.kind) {
					t.Errorf("errors.Is(%v, %v) = false", err, tt.kind)
				}
			}
		})
	}
}

func TestNoService(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	c := client.New(srv.Connect(t))
	_, err := c.Send(ctxFor(t), "order.place", []byte(`{}`))
	if !errors.Is(err, client.ErrNoService) || !strings.Contains(err.Error(), "cmd.order.place") {
		t.Errorf("Send with no service: %v", err)
	}
	_, err = c.Query(ctxFor(t), "orders.list", nil, nil)
	if !errors.Is(err, client.ErrNoService) || !strings.Contains(err.Error(), "query.orders.list") {
		t.Errorf("Query with no service: %v", err)
	}
}

// A name that is not two tokens is refused before anything is sent.
func TestInvalidNames(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	got := service(t, nc, ">", body(`{}`))
	c := client.New(nc)
	for _, name := range []string{"", "order", "order.", ".place", "order.place.now", "order.pl ace", "order.*", "order.>", "order\t.place"} {
		if _, err := c.Send(ctxFor(t), name, nil); !errors.Is(err, client.ErrInvalidName) || !strings.Contains(err.Error(), "order.place") {
			t.Errorf("Send(%q): %v, want ErrInvalidName with an example", name, err)
		}
		if _, err := c.Query(ctxFor(t), name, nil, nil); !errors.Is(err, client.ErrInvalidName) {
			t.Errorf("Query(%q): %v, want ErrInvalidName", name, err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		t.Errorf("an invalid name sent %s", m.Subject)
	default:
	}
}

// A call whose context has no deadline is bounded by the client's
// timeout; a caller's deadline wins over it.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	service(t, nc, "cmd.order.place", func(*nats.Msg) *nats.Msg { return nil }) // never answers

	start := time.Now()
	_, err := client.New(nc, client.WithTimeout(200*time.Millisecond)).Send(context.Background(), "order.place", nil)
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second {
		t.Errorf("WithTimeout(200ms) and no deadline: %v after %s", err, took)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = client.New(nc, client.WithTimeout(time.Hour)).Send(ctx, "order.place", nil)
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > 5*time.Second {
		t.Errorf("the caller's 200ms deadline: %v after %s", err, took)
	}
}
