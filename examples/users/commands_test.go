package users_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

func TestCommandsWriteEventsWithEveryHeader(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	trace := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	created := c.mustSend("cmd.user.create", map[string]string{"username": "alice", "email": "alice@example.com"},
		map[string]string{wire.HeaderCorrelationID: "corr-42", wire.HeaderUserID: "admin-1", wire.HeaderTraceParent: trace})
	if created.Version != 1 || created.AggregateID == "" {
		t.Fatalf("create reply %+v", created)
	}
	id := created.AggregateID
	updated := c.mustSend("cmd.user.update", map[string]string{"id": id, "email": "alice@example.org"}, map[string]string{wire.HeaderCommandID: "cmd-upd-1"})
	changed := c.mustSend("cmd.user.change_status", map[string]string{"id": id, "status": "suspended"}, nil)
	if updated.Version != 2 || changed.Version != 3 || changed.Sequence <= updated.Sequence {
		t.Fatalf("replies: %+v %+v", updated, changed)
	}
	st, err := n.p.JS.Stream(ctx(t), "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	types := []string{users.EventCreated, users.EventUpdated, users.EventStatusChanged}
	seqs := []uint64{created.Sequence, updated.Sequence, changed.Sequence}
	stored := make([]streams.Event, len(seqs))
	for i, seq := range seqs {
		msg, err := st.GetMsg(ctx(t), seq)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := streams.DecodeEvents(msg.Subject, msg.Header, msg.Data, msg.Sequence)
		if err != nil || len(evs) != 1 {
			t.Fatalf("commit %d decodes to %+v %v", i+1, evs, err)
		}
		e := evs[0]
		if e.ID == "" || e.Type != types[i] || e.Version != uint64(i+1) || e.AggregateType != "user" || e.AggregateID != id ||
			e.Schema < 1 || e.Metadata.CorrelationID == "" || e.Metadata.CausationID == "" || e.Metadata.Source == "" || e.OccurredAt.IsZero() ||
			msg.Subject != "events.user."+id || msg.Header.Get("Nats-Msg-Id") != e.ID {
			t.Errorf("event %d: %+v on %s (message id %s)", i+1, e, msg.Subject, msg.Header.Get("Nats-Msg-Id"))
		}
		stored[i] = e
	}
	if m := stored[0].Metadata; m.CorrelationID != "corr-42" || m.TraceParent != trace {
		t.Errorf("metadata not carried: %+v", m)
	}
	if id := stored[0].ID; len(id) != 36 || id[14] != '7' {
		t.Errorf("event id %q of a command without Jetflow-Command-Id is not a UUIDv7", id)
	}
	if stored[1].Metadata.CausationID != "cmd-upd-1" {
		t.Errorf("causation id = %q, want the command id", stored[1].Metadata.CausationID)
	}
	events := eventsOf(t, n, id)
	for i, ev := range events {
		if ev.Version != uint64(i+1) {
			t.Fatalf("versions not contiguous: %+v", events)
		}
	}
}

func TestExpectedVersionConflictIs409(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	a, b := newClient(t, srv.URL), newClient(t, srv.URL)
	id := a.create("bob").AggregateID
	var wg sync.WaitGroup
	replies := make([]reply, 2)
	for i, c := range []*client{a, b} {
		wg.Go(func() {
			replies[i] = c.send("cmd.user.update", map[string]string{"id": id, "email": fmt.Sprintf("bob%d@example.com", i)}, expect(1))
		})
	}
	wg.Wait()
	oks, conflicts := 0, 0
	for _, r := range replies {
		switch {
		case r.err == nil:
			oks++
		case r.err.Status == 409 && r.err.Code == "conflict":
			conflicts++
		default:
			t.Fatalf("unexpected reply %+v", r.err)
		}
	}
	if oks != 1 || conflicts != 1 {
		t.Fatalf("ok=%d conflicts=%d", oks, conflicts)
	}
	if got := len(eventsOf(t, n, id)); got != 2 {
		t.Fatalf("user has %d events, want 2", got)
	}
}

func TestConcurrentUpdatesWithoutExpectationAllSucceed(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("carol").AggregateID
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			c.mustSend("cmd.user.update", map[string]string{"id": id, "email": fmt.Sprintf("carol%d@example.com", i)}, nil)
		})
	}
	wg.Wait()
	events := eventsOf(t, n, id)
	if len(events) != 101 || events[100].Version != 101 {
		t.Fatalf("user has %d events, want 101", len(events))
	}
}

func TestTwoInstancesCatchStaleCaches(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n1, n2 := startNode(t, srv.URL), startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("dave").AggregateID
	// Each instance warms its cache, then they alternate: every write by
	// one makes the other's cached copy stale.
	const rounds = 40
	var wg sync.WaitGroup
	for w, n := range []*node{n1, n2} {
		wg.Go(func() {
			for i := range rounds {
				email := fmt.Sprintf("dave-%d-%d@example.com", w, i)
				_, err := n.repo.Execute(ctx(t), id, aggregates.Command{ID: streams.NewEventID()}, func(inst *aggregates.Instance[*users.User]) ([]aggregates.Change, error) {
					return users.DecideUpdate(users.Update{ID: id, Email: &email}, inst)
				})
				if err != nil {
					t.Errorf("instance %d round %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	events := eventsOf(t, n1, id)
	if len(events) != 1+2*rounds {
		t.Fatalf("user has %d events, want %d", len(events), 1+2*rounds)
	}
	for i, ev := range events {
		if ev.Version != uint64(i+1) {
			t.Fatalf("event %d has version %d", i, ev.Version)
		}
	}
	// Both instances now answer with the true state.
	fresh, err := n1.repo.Load(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{n1, n2} {
		r := c.mustSend("cmd.user.change_status", map[string]string{"id": id, "status": "inactive"}, expect(fresh.Position.Version+uint64(btoi(n == n2))))
		if r.Version != fresh.Position.Version+1 {
			t.Fatalf("change_status reply %+v", r)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSnapshotsEveryTenEventsMatchFullReplay(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("erin").AggregateID
	kv, err := n.p.JS.KeyValue(ctx(t), streams.DefaultSnapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	snapVersion := func() uint64 {
		s, err := n.p.Snapshots.Load(ctx(t), users.AggregateType, id)
		if err != nil {
			return 0
		}
		return s.Version
	}
	for v := uint64(2); v <= 25; v++ {
		c.mustSend("cmd.user.update", map[string]string{"id": id, "username": fmt.Sprintf("erin_%d", v)}, nil)
		want := v / 10 * 10
		if got := snapVersion(); got != want {
			t.Fatalf("at version %d the snapshot is at %d, want %d", v, got, want)
		}
	}
	if _, err := kv.Get(ctx(t), "user."+id); err != nil {
		t.Fatalf("snapshot key user.<id>: %v", err)
	}
	withSnap, err := n.repo.Load(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	noSnapRepo, err := users.NewRepository(n.p.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := noSnapRepo.Load(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if *withSnap.State != *replayed.State || withSnap.Position != replayed.Position {
		t.Fatalf("snapshot load %+v %+v != replay %+v %+v", withSnap.State, withSnap.Position, replayed.State, replayed.Position)
	}
	if withSnap.State.Username != "erin_25" || withSnap.Position.Version != 25 {
		t.Fatalf("state %+v at %+v", withSnap.State, withSnap.Position)
	}
}

func TestSameCommandIDWritesOnce(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	hdr := map[string]string{"Jetflow-Command-Id": "create-frank-1"}
	body := map[string]string{"id": "frank", "username": "frank", "email": "frank@example.com"}
	first := c.mustSend("cmd.user.create", body, hdr)
	again := c.mustSend("cmd.user.create", body, hdr)
	if again != dup(first) {
		t.Fatalf("resend reply %+v, want the first %+v marked duplicate", again, first)
	}
	upd := map[string]string{"Jetflow-Command-Id": "upd-frank-1"}
	u1 := c.mustSend("cmd.user.update", map[string]string{"id": "frank", "email": "f@example.com"}, upd)
	// Enough later commands to pass a snapshot; then a fresh process (no
	// cache) must still recognise the resend from the snapshot.
	for i := range 12 {
		c.mustSend("cmd.user.update", map[string]string{"id": "frank", "username": fmt.Sprintf("frank_%d", i)}, nil)
	}
	fresh := startNode(t, srv.URL)
	u2, err := fresh.repo.Execute(ctx(t), "frank", aggregates.Command{ID: "upd-frank-1", Idempotent: true}, func(inst *aggregates.Instance[*users.User]) ([]aggregates.Change, error) {
		t.Fatal("a resent command must not be decided again")
		return nil, nil
	})
	if err != nil || !u2.Duplicate || u2.Version != u1.Version || u2.Sequence != u1.Sequence {
		t.Fatalf("resend after snapshot: %+v %v, first %+v", u2, err, u1)
	}
	if got := len(eventsOf(t, n, "frank")); got != 14 {
		t.Fatalf("frank has %d events, want 14", got)
	}
}

// A create that names no id, resent with its Jetflow-Command-Id after a
// lost reply, reaches the user the first one created; without a command id
// each create is a new user.
func TestCreateWithoutIDResentWithItsCommandIDCreatesOnce(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	// Two instances share the requests, so resends reach both the one that
	// ran the create (its cache) and the other one (a load).
	n := startNode(t, srv.URL)
	startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	body := map[string]string{"username": "zoe", "email": "zoe@example.com"}
	hdr := map[string]string{wire.HeaderCommandID: "create-zoe-1"}
	first := c.mustSend("cmd.user.create", body, hdr)
	for range 6 {
		if again := c.mustSend("cmd.user.create", body, hdr); again != dup(first) {
			t.Fatalf("resend reply %+v, want the first %+v marked duplicate", again, first)
		}
	}
	if evs := eventsOf(t, n, first.AggregateID); len(evs) != 1 {
		t.Fatalf("%d events for %s, want 1", len(evs), first.AggregateID)
	}
	second := c.mustSend("cmd.user.create", map[string]string{"username": "zoe2", "email": "zoe2@example.com"}, map[string]string{wire.HeaderCommandID: "create-zoe-2"})
	plain1 := c.mustSend("cmd.user.create", body, nil)
	plain2 := c.mustSend("cmd.user.create", body, nil)
	ids := map[string]bool{first.AggregateID: true, second.AggregateID: true, plain1.AggregateID: true, plain2.AggregateID: true}
	if len(ids) != 4 {
		t.Fatalf("ids %v: each distinct create needs its own id", ids)
	}
	if v := uuid.MustParse(plain1.AggregateID).Version(); v != 7 {
		t.Fatalf("id %s without a command id is UUID version %d, want 7", plain1.AggregateID, v)
	}
}

// Refusals and no-ops write nothing, so the store never checks them: an
// instance whose cache is behind another instance's writes must not answer
// them from that cache.
func TestStaleCacheNeverAnswersARefusalOrANoOp(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n1, n2 := startNode(t, srv.URL), startNode(t, srv.URL)
	run := func(n *node, id string, decide aggregates.Decider[*users.User]) (aggregates.Outcome, error) {
		return n.repo.Execute(ctx(t), id, aggregates.Command{ID: streams.NewEventID()}, decide)
	}
	create := func(id string) aggregates.Decider[*users.User] {
		return func(inst *aggregates.Instance[*users.User]) ([]aggregates.Change, error) {
			return users.DecideCreate(users.Create{ID: id, Username: id, Email: id + "@example.com"}, inst)
		}
	}
	email := "zed2@example.com"
	update := func(inst *aggregates.Instance[*users.User]) ([]aggregates.Change, error) {
		return users.DecideUpdate(users.Update{ID: "zed", Email: &email}, inst)
	}
	status := func(id, s string) aggregates.Decider[*users.User] {
		return func(inst *aggregates.Instance[*users.User]) ([]aggregates.Change, error) {
			return users.DecideChangeStatus(users.ChangeStatus{ID: id, Status: s}, inst)
		}
	}

	// A refusal: n1 caches "zed does not exist", then n2 creates zed.
	if _, err := run(n1, "zed", update); !errors.Is(err, aggregates.ErrNotFound) {
		t.Fatalf("update before the create: %v, want not found", err)
	}
	if _, err := run(n2, "zed", create("zed")); err != nil {
		t.Fatal(err)
	}
	if out, err := run(n1, "zed", update); err != nil || out.Version != 2 {
		t.Fatalf("update after another instance created the user: %+v %v", out, err)
	}

	// A no-op: n1 caches yan as active, then n2 suspends yan.
	if _, err := run(n1, "yan", create("yan")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(n2, "yan", status("yan", users.StatusSuspended)); err != nil {
		t.Fatal(err)
	}
	out, err := run(n1, "yan", status("yan", users.StatusActive))
	if err != nil || out.Version != 3 || len(out.Events) != 1 {
		t.Fatalf("reactivation on the instance with the stale cache: %+v %v, want version 3 written", out, err)
	}
	if inst, err := n2.repo.Load(ctx(t), "yan"); err != nil || inst.State.Status != users.StatusActive {
		t.Fatalf("stored yan: %+v %v", inst, err)
	}
}

// A command whose first run was a no-op is answered the same when resent,
// even after the state moved on.
func TestResendOfANoOpWritesNothing(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("xia").AggregateID
	hdr := map[string]string{wire.HeaderCommandID: "activate-xia-1"}
	body := map[string]string{"id": id, "status": "active"}
	first := c.mustSend("cmd.user.change_status", body, hdr)
	c.mustSend("cmd.user.change_status", map[string]string{"id": id, "status": "suspended"}, nil)
	if again := c.mustSend("cmd.user.change_status", body, hdr); again != dup(first) {
		t.Fatalf("resend reply %+v, want the first %+v marked duplicate", again, first)
	}
	if got := len(eventsOf(t, n, id)); got != 2 {
		t.Fatalf("xia has %d events after the resend, want 2 (created, suspended)", got)
	}
}

// An aggregate remembers the results of its last 64 commands; a resend
// after more (inside the stream's duplicate window) is still recognised
// by its event ids and answered with the first result.
func TestResendBeyondTheRememberedResultsWritesNothing(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	id := c.create("wes").AggregateID
	hdr := map[string]string{wire.HeaderCommandID: "upd-wes-1"}
	body := map[string]string{"id": id, "email": "wes-first@example.com"}
	first := c.mustSend("cmd.user.update", body, hdr)
	for i := range 65 {
		c.mustSend("cmd.user.update", map[string]string{"id": id, "email": fmt.Sprintf("wes_%d@example.com", i)}, nil)
	}
	r := c.send("cmd.user.update", body, hdr)
	if r.err != nil {
		t.Fatalf("resend of %s after 65 commands: %d %s %q (first reply %+v)", hdr[wire.HeaderCommandID], r.err.Status, r.err.Code, r.err.Message, first)
	}
	if r.ok != dup(first) {
		t.Fatalf("resend reply %+v, first %+v; %d events", r.ok, first, len(eventsOf(t, n, id)))
	}
	if got := len(eventsOf(t, n, id)); got != 67 {
		t.Fatalf("wes has %d events, want 67 (created, the update, 65 more)", got)
	}
}

func TestBadInputGetsAClear4xxAndWritesNothing(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	existing := c.create("grace").AggregateID
	before := streamLastSeq(t, n)
	cases := []struct {
		name, subject string
		body          any
		headers       map[string]string
		status        int
		mention       string
	}{
		{"malformed json", "cmd.user.create", `{"username":`, nil, 400, "malformed JSON"},
		{"not an object", "cmd.user.create", `[1,2]`, nil, 400, "JSON object"},
		{"trailing data", "cmd.user.create", `{"username":"x1x","email":"a@b.co"} {}`, nil, 400, "after the JSON object"},
		{"empty body", "cmd.user.create", ``, nil, 400, "empty"},
		{"unknown field", "cmd.user.create", `{"username":"heidi","email":"h@example.com","admin":true}`, nil, 400, `unknown field "admin"`},
		{"wrong type", "cmd.user.create", `{"username":5,"email":"h@example.com"}`, nil, 400, `"username"`},
		{"missing username", "cmd.user.create", `{"email":"h@example.com"}`, nil, 400, "username is required"},
		{"bad username", "cmd.user.create", `{"username":"Heidi!","email":"h@example.com"}`, nil, 400, "username"},
		{"bad email", "cmd.user.create", `{"username":"heidi","email":"not-an-email"}`, nil, 400, "email"},
		{"display-name email", "cmd.user.create", `{"username":"heidi","email":"Heidi <h@example.com>"}`, nil, 400, "email"},
		{"100 kB email", "cmd.user.create", `{"username":"heidi","email":"` + strings.Repeat("h", 100_000) + `@example.com"}`, nil, 400, "email is 100012 bytes, at most 254"},
		{"255-byte email", "cmd.user.update", `{"id":"` + existing + `","email":"` + strings.Repeat("h", 243) + `@example.com"}`, nil, 400, "at most 254"},
		{"id with dot", "cmd.user.create", `{"id":"a.b","username":"heidi","email":"h@example.com"}`, nil, 400, "invalid id"},
		{"id star", "cmd.user.update", `{"id":"*","email":"h@example.com"}`, nil, 400, "invalid id"},
		{"id 200 bytes", "cmd.user.update", `{"id":"` + strings.Repeat("x", 200) + `","email":"h@example.com"}`, nil, 400, "200 bytes"},
		{"missing id", "cmd.user.update", `{"email":"h@example.com"}`, nil, 400, "invalid id"},
		{"nothing to update", "cmd.user.update", `{"id":"` + existing + `"}`, nil, 400, "nothing to update"},
		{"bad status", "cmd.user.change_status", `{"id":"` + existing + `","status":"gone"}`, nil, 400, "status"},
		{"unknown user", "cmd.user.update", `{"id":"nobody","email":"h@example.com"}`, nil, 404, "does not exist"},
		{"create existing", "cmd.user.create", `{"id":"` + existing + `","username":"grace","email":"g@example.com"}`, nil, 409, "already exists"},
		{"unknown command", "cmd.user.delete", `{}`, nil, 404, "unknown command"},
		{"unknown aggregate", "cmd.order.create", `{}`, nil, 404, "unknown command"},
		{"bad expected version", "cmd.user.update", `{"id":"` + existing + `","email":"g2@example.com"}`, map[string]string{"Jetflow-Expected-Version": "one"}, 400, "Jetflow-Expected-Version"},
		{"2 MB body", "cmd.user.create", `{"username":"` + strings.Repeat("a", 2<<20) + `"}`, nil, 413, "at most"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := (&client{t: t, nc: c.nc}).send(tc.subject, tc.body, tc.headers)
			if r.err == nil {
				t.Fatalf("succeeded: %+v", r.ok)
			}
			if r.err.Status != tc.status || !strings.Contains(r.err.Message, tc.mention) {
				t.Fatalf("got %d %s %q, want %d mentioning %q", r.err.Status, r.err.Code, r.err.Message, tc.status, tc.mention)
			}
		})
	}
	if after := streamLastSeq(t, n); after != before {
		t.Fatalf("EVENTS changed: last sequence %d -> %d", before, after)
	}
}

func TestStatusChangeToCurrentStatusWritesNothing(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n := startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	created := c.create("ivan")
	r := c.mustSend("cmd.user.change_status", map[string]string{"id": created.AggregateID, "status": "active"}, nil)
	if r.Version != 1 || r.Sequence != created.Sequence {
		t.Fatalf("no-op status change reply %+v, created %+v", r, created)
	}
	if len(eventsOf(t, n, created.AggregateID)) != 1 {
		t.Fatal("a no-op status change wrote an event")
	}
}

func TestServiceAnswersMicroDiscovery(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	startNode(t, srv.URL)
	nc := natstest.Connect(t, srv.URL)
	if _, err := nc.Request("$SRV.PING.jetflow-commands", nil, 5e9); err != nil {
		t.Fatalf("$SRV.PING: %v", err)
	}
	msg, err := nc.Request("$SRV.INFO.jetflow-commands", nil, 5e9)
	if err != nil {
		t.Fatalf("$SRV.INFO: %v", err)
	}
	for _, subject := range []string{"cmd.user.create", "cmd.user.update", "cmd.user.change_status"} {
		if !strings.Contains(string(msg.Data), `"subject":"`+subject+`"`) {
			t.Errorf("$SRV.INFO lacks endpoint %s: %s", subject, msg.Data)
		}
	}
}

// Through NATS, requests land on either of two instances at random; each
// update names the version the previous reply returned, so an instance
// whose cache missed the other's write must reload rather than refuse.
func TestTwoInstancesOverNATSWithExpectedVersions(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	n1 := startNode(t, srv.URL)
	startNode(t, srv.URL)
	c := newClient(t, srv.URL)
	r := c.create("olga")
	for i := range 40 {
		r = c.mustSend("cmd.user.update", map[string]string{"id": r.AggregateID, "email": fmt.Sprintf("olga%d@example.com", i)}, expect(r.Version))
	}
	if r.Version != 41 {
		t.Fatalf("final version %d, want 41", r.Version)
	}
	if got := len(eventsOf(t, n1, r.AggregateID)); got != 41 {
		t.Fatalf("%d events, want 41", got)
	}
}
