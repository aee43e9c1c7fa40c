package app

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/wire"
)

// What send and query print is a promise to scripts: the reply's body on
// stdout as the service sent it, an error reply on stderr with exit 1, and
// the subject and server when nothing answers.
func TestSendAndQueryOutput(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := srv.Connect(t)
	answer := func(subject string, reply func(m *nats.Msg) *nats.Msg) <-chan *nats.Msg {
		got := make(chan *nats.Msg, 4)
		if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
			got <- m
			_ = m.RespondMsg(reply(m))
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	body := func(data string) func(*nats.Msg) *nats.Msg {
		return func(m *nats.Msg) *nats.Msg {
			r := nats.NewMsg(m.Reply)
			r.Data = []byte(data)
			return r
		}
	}
	sent := answer("cmd.user.create", body(`{"aggregate_id":"u1","version":1,"sequence":3}`))
	answer("cmd.user.rename", func(m *nats.Msg) *nats.Msg {
		return wire.Errorf(wire.StatusConflict, wire.CodeConflict, "user %s is at version %d", "u1", 4).Reply(m.Reply)
	})
	queried := answer("query.users.list", body(`{"items":[],"page":0,"per_page":20,"total":0}`))
	answer("query.users.get", func(m *nats.Msg) *nats.Msg {
		return wire.Errorf(wire.StatusNotFound, wire.CodeNotFound, "user nope not found").Reply(m.Reply)
	})
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		args           []string
		stdout, stderr string
		err            string // "" for none
	}{
		{args: []string{"send", "user.create", `{"username": "a"}`, "--command-id", "c-1", "--user-id", "me"},
			stdout: `{"aggregate_id":"u1","version":1,"sequence":3}` + "\n"},
		{args: []string{"send", "user.rename", `{}`},
			stderr: "error 409 conflict: user u1 is at version 4\n", err: ErrReported.Error()},
		{args: []string{"send", "user.delete", `{}`},
			err: "no service answers cmd.user.delete at " + srv.URL + " (is `jetflow serve` running?)"},
		{args: []string{"send", "user", `{}`},
			err: `command "user": want <aggregate_type>.<command>, e.g. user.create`},
		{args: []string{"query", "users.list"},
			stdout: `{"items":[],"page":0,"per_page":20,"total":0}` + "\n"},
		{args: []string{"query", "users.list", `{"page":1}`, "--user-id", "ops-7"},
			stdout: `{"items":[],"page":0,"per_page":20,"total":0}` + "\n"},
		{args: []string{"query", "users.get", `{"id":"nope"}`},
			stderr: "error 404 not_found: user nope not found\n", err: ErrReported.Error()},
		{args: []string{"query", "users.list", "--prefix", "q2"},
			err: "no service answers q2.users.list at " + srv.URL + " (is `jetflow serve` running?)"},
		{args: []string{"query", "users"},
			err: `query "users": want <read_model>.<query>, e.g. users.list`},
	}
	for _, tt := range tests {
		stdout, stderr, err := runRoot(t, append(tt.args, "--nats-url", srv.URL)...)
		if stdout != tt.stdout || stderr != tt.stderr {
			t.Errorf("%q:\nstdout %q, want %q\nstderr %q, want %q", tt.args, stdout, tt.stdout, stderr, tt.stderr)
		}
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q: %v", tt.args, err)
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("%q: error %v, want %s", tt.args, err, tt.err)
		}
		if tt.err == ErrReported.Error() && !errors.Is(err, ErrReported) {
			t.Errorf("%q: %v is not ErrReported", tt.args, err)
		}
	}
	// The body goes as it was given, with the headers the flags name.
	m := <-sent
	if string(m.Data) != `{"username": "a"}` || m.Header.Get(wire.HeaderCommandID) != "c-1" || m.Header.Get(wire.HeaderUserID) != "me" ||
		m.Header.Get(wire.HeaderCorrelationID) != "" {
		t.Errorf("sent %s %v", m.Data, m.Header)
	}
	if m := <-queried; string(m.Data) != `{}` {
		t.Errorf("a query without a body sent %s, want {}", m.Data)
	}
	if m := <-queried; string(m.Data) != `{"page":1}` || m.Header.Get(wire.HeaderUserID) != "ops-7" {
		t.Errorf("query --user-id sent %s %v", m.Data, m.Header)
	}
}
