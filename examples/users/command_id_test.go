package users_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/wire"
)

// dup is r as a resend of its command is answered: the same reply, marked
// as a duplicate.
func dup(r wire.CommandReply) wire.CommandReply {
	r.Duplicate = true
	return r
}

// reusedMessage is the 409 message for a command id already used for a
// different command, the earlier one described as what.
func reusedMessage(commandID, what string) string {
	return fmt.Sprintf("Jetflow-Command-Id %s was already used for a different command (%s); use a new id for a new command", commandID, what)
}

// wantReused fails unless r is the 409 refusing commandID's reuse.
func wantReused(t *testing.T, r reply, commandID, what string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("reuse of %s for a different command answered %+v, want 409", commandID, r.ok)
	}
	if r.err.Status != wire.StatusConflict || r.err.Code != wire.CodeConflict || r.err.Message != reusedMessage(commandID, what) {
		t.Fatalf("reuse of %s: %d %s %q, want 409 conflict %q", commandID, r.err.Status, r.err.Code, r.err.Message, reusedMessage(commandID, what))
	}
}

// request is client.send for goroutines: it reports instead of failing.
func request(nc *nats.Conn, subject string, body any, headers map[string]string) (reply, error) {
	msg := nats.NewMsg(subject)
	msg.Data, _ = json.Marshal(body)
	for k, v := range headers {
		msg.Header.Set(k, v)
	}
	resp, err := nc.RequestMsg(msg, 20*time.Second)
	if err != nil {
		return reply{}, err
	}
	if e := wire.ParseErrorReply(resp); e != nil {
		return reply{err: e}, nil
	}
	var r reply
	if err := json.Unmarshal(resp.Data, &r.ok); err != nil {
		return reply{}, fmt.Errorf("reply %q: %w", resp.Data, err)
	}
	return r, nil
}

// A resend of the same command is answered with the first reply, marked as
// a duplicate in its body and a header. The same parameters in another key
// order, spacing or with an absent field spelled null are the same command.
func TestResendOfTheSameCommandIsMarkedDuplicate(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("ada").AggregateID
	hdr := map[string]string{wire.HeaderCommandID: "upd-ada-1"}
	first := c.mustSend("cmd.user.update", `{"id":"`+id+`","email":"ada@example.org"}`, hdr)
	if first.Duplicate || first.Version != 2 {
		t.Fatalf("first run %+v", first)
	}
	if again := c.mustSend("cmd.user.update", `{ "email": "ada@example.org",  "id": "`+id+`", "username": null }`, hdr); again != dup(first) {
		t.Fatalf("resend reply %+v, want %+v", again, dup(first))
	}
	msg := nats.NewMsg("cmd.user.update")
	msg.Data = []byte(`{"id":"` + id + `","email":"ada@example.org"}`)
	msg.Header.Set(wire.HeaderCommandID, "upd-ada-1")
	resp, err := c.nc.RequestMsg(msg, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get(wire.HeaderDuplicate); got != "true" || !strings.Contains(string(resp.Data), `"duplicate":true`) {
		t.Fatalf("resend reply header %s=%q body %s, want true and \"duplicate\":true", wire.HeaderDuplicate, got, resp.Data)
	}
	if strings.Contains(string(newCommandReplyBody(t, c, id)), "duplicate") {
		t.Fatal("a first run's reply must not mention duplicate")
	}
	if got := len(eventsOf(t, n, id)); got != 3 {
		t.Fatalf("ada has %d events, want 3 (created, updated, the status change)", got)
	}
}

// first2 sends a new command and returns its raw reply body.
func newCommandReplyBody(t *testing.T, c *client, id string) []byte {
	t.Helper()
	msg := nats.NewMsg("cmd.user.change_status")
	msg.Data = []byte(`{"id":"` + id + `","status":"suspended"}`)
	msg.Header.Set(wire.HeaderCommandID, "suspend-"+id)
	resp, err := c.nc.RequestMsg(msg, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get(wire.HeaderDuplicate) != "" {
		t.Fatalf("a first run's reply has %s", wire.HeaderDuplicate)
	}
	return resp.Data
}

// A command id already used for one body is refused for another (409),
// writes nothing, and still answers a true resend with the first reply;
// also for a create naming no id, whose id derives from the command id.
func TestReusedCommandIDWithAnotherBodyIs409(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("bea").AggregateID
	hdr := map[string]string{wire.HeaderCommandID: "upd-bea-1"}
	first := c.mustSend("cmd.user.update", map[string]string{"id": id, "email": "bea@example.org"}, hdr)
	wantReused(t, c.send("cmd.user.update", map[string]string{"id": id, "email": "bea-other@example.org"}, hdr), "upd-bea-1", "user.update with another body")
	if again := c.mustSend("cmd.user.update", map[string]string{"id": id, "email": "bea@example.org"}, hdr); again != dup(first) {
		t.Fatalf("true resend after a refused reuse: %+v, want %+v", again, dup(first))
	}
	if inst, err := n.repo.Load(ctx(t), id); err != nil || inst.State.Email != "bea@example.org" || inst.Position.Version != 2 {
		t.Fatalf("bea after the refused reuse: %+v %v", inst, err)
	}

	create := map[string]string{wire.HeaderCommandID: "create-cid-1"}
	created := c.mustSend("cmd.user.create", map[string]string{"username": "cid", "email": "cid@example.com"}, create)
	wantReused(t, c.send("cmd.user.create", map[string]string{"username": "cid2", "email": "cid2@example.com"}, create), "create-cid-1", "user.create with another body")
	if again := c.mustSend("cmd.user.create", map[string]string{"username": "cid", "email": "cid@example.com"}, create); again != dup(created) {
		t.Fatalf("true resend of the create: %+v, want %+v", again, dup(created))
	}
	if evs := eventsOf(t, n, created.AggregateID); len(evs) != 1 {
		t.Fatalf("%d events for the created user, want 1", len(evs))
	}
}

// A command id is bound to its command: the same id for another command
// on the same aggregate is refused.
func TestReusedCommandIDForAnotherCommandIs409(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("cyd").AggregateID
	hdr := map[string]string{wire.HeaderCommandID: "cyd-1"}
	c.mustSend("cmd.user.update", map[string]string{"id": id, "email": "cyd@example.org"}, hdr)
	wantReused(t, c.send("cmd.user.change_status", map[string]string{"id": id, "status": "suspended"}, hdr), "cyd-1", "user.update")
	if inst, err := n.repo.Load(ctx(t), id); err != nil || inst.State.Status != users.StatusActive || inst.Position.Version != 2 {
		t.Fatalf("cyd after the refused reuse: %+v %v", inst, err)
	}
}

// A command that wrote nothing (a no-op) remembers what it was too.
func TestReusedCommandIDOfANoOpIs409(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("dov").AggregateID
	hdr := map[string]string{wire.HeaderCommandID: "dov-active-1"}
	first := c.mustSend("cmd.user.change_status", map[string]string{"id": id, "status": "active"}, hdr)
	wantReused(t, c.send("cmd.user.change_status", map[string]string{"id": id, "status": "suspended"}, hdr), "dov-active-1", "user.change_status with another body")
	if again := c.mustSend("cmd.user.change_status", map[string]string{"id": id, "status": "active"}, hdr); again != dup(first) {
		t.Fatalf("resend of the no-op: %+v, want %+v", again, dup(first))
	}
	if got := len(eventsOf(t, n, id)); got != 1 {
		t.Fatalf("dov has %d events, want 1", got)
	}
}

// The test: 20 concurrent creates naming no id, sharing one
// command id, with 20 usernames, over two instances: one creates the user,
// the other 19 are refused, and nothing else is written.
func TestConcurrentCreatesSharingACommandIDWithDifferentBodies(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	replies := concurrentCreates(t, c.nc, "create-many-1", func(i int) string { return fmt.Sprintf("eve_%02d", i) })
	var won []wire.CommandReply
	for i, r := range replies {
		switch {
		case r.err == nil:
			won = append(won, r.ok)
		case r.err.Status != wire.StatusConflict || r.err.Code != wire.CodeConflict ||
			!strings.HasPrefix(r.err.Message, "Jetflow-Command-Id create-many-1 was already used for a different command ("):
			t.Errorf("create %d: %d %s %q, want 409 conflict naming the command id", i, r.err.Status, r.err.Code, r.err.Message)
		}
	}
	if len(won) != 1 || won[0].Duplicate {
		t.Fatalf("%d creates succeeded (%+v), want exactly 1", len(won), won)
	}
	if evs := eventsOf(t, n, won[0].AggregateID); len(evs) != 1 {
		t.Fatalf("%d events for the user, want 1", len(evs))
	}
	if last := streamLastSeq(t, n); last != 1 {
		t.Fatalf("the stream holds %d events, want 1", last)
	}
}

// 20 concurrent identical creates sharing one command id: all succeed with
// the one reply, one event is written, 19 replies are marked duplicate.
func TestConcurrentIdenticalCreatesSharingACommandID(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	replies := concurrentCreates(t, c.nc, "create-fay-1", func(int) string { return "fay" })
	dups := 0
	var want wire.CommandReply
	for i, r := range replies {
		if r.err != nil {
			t.Fatalf("create %d: %+v", i, r.err)
		}
		if r.ok.Duplicate {
			dups++
		}
		got := r.ok
		got.Duplicate = false
		if i == 0 {
			want = got
		} else if got != want {
			t.Fatalf("create %d reply %+v, create 0 %+v", i, r.ok, replies[0].ok)
		}
	}
	if dups != len(replies)-1 {
		t.Fatalf("%d of %d replies marked duplicate, want %d", dups, len(replies), len(replies)-1)
	}
	if evs := eventsOf(t, n, want.AggregateID); len(evs) != 1 {
		t.Fatalf("%d events for fay, want 1", len(evs))
	}
}

func concurrentCreates(t *testing.T, nc *nats.Conn, commandID string, username func(int) string) []reply {
	t.Helper()
	const n = 20
	replies := make([]reply, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			u := username(i)
			replies[i], errs[i] = request(nc, "cmd.user.create", map[string]string{"username": u, "email": u + "@example.com"},
				map[string]string{wire.HeaderCommandID: commandID})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	return replies
}

// An instance that caches nothing loads every aggregate afresh, as after a
// restart: it still tells a resend from a reused id, whether it learns the
// first command from the snapshot or from the events after it.
func TestReusedCommandIDIsRecognisedAfterAReload(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL, aggregates.WithCacheSize(0))
	c := newClient(t, srv.URL)
	create := map[string]string{wire.HeaderCommandID: "create-gus-1"}
	created := c.mustSend("cmd.user.create", map[string]string{"username": "gus", "email": "gus@example.com"}, create)
	id := created.AggregateID
	for i := range 8 { // versions 2 to 9
		c.mustSend("cmd.user.change_status", map[string]string{"id": id, "status": []string{"inactive", "active"}[i%2]}, nil)
	}
	upd := map[string]string{wire.HeaderCommandID: "upd-gus-1"}
	updated := c.mustSend("cmd.user.update", map[string]string{"id": id, "email": "gus@example.org"}, upd) // version 10: snapshot
	c.mustSend("cmd.user.change_status", map[string]string{"id": id, "status": "suspended"}, nil)
	if snap, err := n.p.Snapshots.Load(ctx(t), users.AggregateType, id); err != nil || snap.Version != 10 {
		t.Fatalf("snapshot %+v %v, want one at version 10", snap, err)
	}

	// The update's result is in the snapshot, with what it was.
	wantReused(t, c.send("cmd.user.update", map[string]string{"id": id, "email": "gus-other@example.org"}, upd), "upd-gus-1", "user.update with another body")
	wantReused(t, c.send("cmd.user.change_status", map[string]string{"id": id, "status": "active"}, upd), "upd-gus-1", "user.update")
	if again := c.mustSend("cmd.user.update", map[string]string{"id": id, "email": "gus@example.org"}, upd); again != dup(updated) {
		t.Fatalf("resend of the update: %+v, want %+v", again, dup(updated))
	}
	// The create's result was learned from its event when the instance
	// that took the snapshot loaded the user: its event id tells.
	wantReused(t, c.send("cmd.user.create", map[string]string{"username": "gus2", "email": "gus2@example.com"}, create), "create-gus-1", "another command, or this one with another body")
	if again := c.mustSend("cmd.user.create", map[string]string{"username": "gus", "email": "gus@example.com"}, create); again != dup(created) {
		t.Fatalf("resend of the create: %+v, want %+v", again, dup(created))
	}
	if got := len(eventsOf(t, n, id)); got != 11 {
		t.Fatalf("gus has %d events, want 11", got)
	}
}

// Past the 64 remembered results an aggregate has forgotten a command id,
// as an expired idempotency key: a resend of the same command is still
// recognised by its event ids (inside the stream's duplicate window), but
// a different command under that id is never answered with the first
// command's reply.
func TestReusedCommandIDBeyondTheRememberedResultsIsNotAnsweredWithTheFirstReply(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("hal").AggregateID
	hdr := map[string]string{wire.HeaderCommandID: "upd-hal-1"}
	first := c.mustSend("cmd.user.update", map[string]string{"id": id, "email": "hal-first@example.com"}, hdr)
	for i := range 65 {
		c.mustSend("cmd.user.update", map[string]string{"id": id, "email": fmt.Sprintf("hal_%d@example.com", i)}, nil)
	}
	if again := c.mustSend("cmd.user.update", map[string]string{"id": id, "email": "hal-first@example.com"}, hdr); again != dup(first) {
		t.Fatalf("resend after 65 commands: %+v, want %+v", again, dup(first))
	}
	r := c.send("cmd.user.update", map[string]string{"id": id, "email": "hal-other@example.com"}, hdr)
	if r.err == nil && (r.ok.Duplicate || r.ok.Version == first.Version) {
		t.Fatalf("a different command under a forgotten id answered with the first reply %+v (first %+v)", r.ok, first)
	}
	if r.err == nil {
		inst, err := n.repo.Load(ctx(t), id)
		if err != nil || inst.State.Email != "hal-other@example.com" || inst.Position.Version != r.ok.Version {
			t.Fatalf("reply %+v but hal is %+v %v", r.ok, inst, err)
		}
	}
}
