package deploy_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/rpc"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// What nats-server 2.15.2 does with the shipped accounts.conf: a request
// from APP reaches the service account through the import stamped with
// the client's account and user, whatever Nats-Request-Info the client
// wrote, and with its reply subject rewritten to a _R_. subject.
func TestServerStampsTheClientsIdentity(t *testing.T) {
	t.Parallel()
	s := startServer(t, loadNATSConf(t))
	svc, _ := connectAs(t, s.ClientURL(), serviceUser, servicePassword, nats.CustomInboxPrefix(serviceInboxPrefix))
	sub, err := svc.SubscribeSync("cmd.probe.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Flush(); err != nil {
		t.Fatal(err)
	}
	client, _ := connectAs(t, s.ClientURL(), clientUser, clientPassword, nats.Name("billing-app"))
	msg := nats.NewMsg("cmd.probe.x")
	msg.Reply = "_INBOX.probe"
	msg.Header.Set(wire.HeaderRequestInfo, `{"acc":"JETFLOW","user":"jetflow"}`)
	msg.Header.Set(wire.HeaderUserID, "security-admin@corp")
	if err := client.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	got, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	info, present, err := wire.ParseRequestInfo(got.Header)
	if !present || err != nil || info.Account != "APP" || info.User != clientUser || info.Name != "billing-app" {
		t.Fatalf("Nats-Request-Info %q: %+v %v %v", got.Header.Get(wire.HeaderRequestInfo), info, present, err)
	}
	if got.Header.Get(wire.HeaderUserID) != "security-admin@corp" {
		t.Fatalf("the claim is passed on untouched: %v", got.Header)
	}
	if len(got.Reply) < 4 || got.Reply[:4] != wire.ImportReplyPrefix+"." {
		t.Fatalf("reply subject %q, want a %s. subject", got.Reply, wire.ImportReplyPrefix)
	}
}

// Under the shipped configuration a client cannot put someone else's name
// on an event: user "client" claiming security-admin@corp is recorded as
// "client".
func TestSpoofedUserIDIsNotRecorded(t *testing.T) {
	t.Parallel()
	s := startServer(t, loadNATSConf(t))
	node := startNode(t, s.ClientURL(), 1)
	client, _ := connectAs(t, s.ClientURL(), clientUser, clientPassword)
	msg := nats.NewMsg("cmd.user.create")
	msg.Data, _ = json.Marshal(users.Create{Username: "mallory", Email: "m@example.com"})
	msg.Header.Set(wire.HeaderUserID, "security-admin@corp")
	resp, err := client.RequestMsg(msg, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e := wire.ParseErrorReply(resp); e != nil {
		t.Fatal(e)
	}
	var r wire.CommandReply
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ev, err := range node.Store.Load(ctx, "user", r.AggregateID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Metadata.UserID != clientUser {
			t.Fatalf("the event records user %q, want %q (the NATS user)", ev.Metadata.UserID, clientUser)
		}
		return
	}
	t.Fatalf("no event for %s in %s", r.AggregateID, streams.DefaultEventStream)
}

// Under the shipped configuration a query's caller is who the NATS server
// says sent it: user "client" claiming security-admin@corp is "client" to
// the query authorizer and to the handler, the claim kept apart.
func TestQueryCallerIsTheNATSUser(t *testing.T) {
	t.Parallel()
	s := startServer(t, loadNATSConf(t))
	svcConn, _ := connectAs(t, s.ClientURL(), serviceUser, servicePassword, nats.CustomInboxPrefix(serviceInboxPrefix))
	authorized := make(chan rpc.Caller, 1)
	svc, err := projections.NewQueryService(svcConn, projections.QueryConfig{}, projections.WithQueryAuthorizer(
		func(_ context.Context, a projections.QueryAuthorization) error {
			authorized <- a.Caller
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	if err := projections.RegisterQuery(svc, "probe", "whoami", func(ctx context.Context, _ struct{}) (any, uint64, error) {
		c, _ := projections.CallerFrom(ctx)
		return c, 0, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	client, _ := connectAs(t, s.ClientURL(), clientUser, clientPassword)
	msg := nats.NewMsg("query.probe.whoami")
	msg.Header.Set(wire.HeaderUserID, "security-admin@corp")
	resp, err := client.RequestMsgWithContext(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	if e := wire.ParseErrorReply(resp); e != nil {
		t.Fatal(e)
	}
	var inHandler rpc.Caller
	if err := json.Unmarshal(resp.Data, &inHandler); err != nil {
		t.Fatalf("reply %s: %v", resp.Data, err)
	}
	want := rpc.Caller{UserID: clientUser, Account: "APP", User: clientUser, Verified: true, Claimed: "security-admin@corp"}
	if got := <-authorized; got != want || inHandler != want {
		t.Fatalf("the authorizer saw %+v and the handler %+v, want %+v", got, inHandler, want)
	}
}
