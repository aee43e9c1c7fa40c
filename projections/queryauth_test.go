package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/wire"
)

// The query authorizer sees every query before its body is decoded, with
// the caller; a Forbidden refusal reaches the client as a 403 with its
// message, any other error as a plain 403; the handler finds the same
// caller in its context. (On this server without users the caller is the
// client's Jetflow-User-Id; deploy/identity_test.go checks the caller the
// NATS server stamps.)
func TestQueryAuthorizer(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := natstest.Connect(t, srv.URL)
	var mu sync.Mutex
	var seen []projections.QueryAuthorization
	svc, err := projections.NewQueryService(nc, projections.QueryConfig{}, projections.WithQueryAuthorizer(
		func(_ context.Context, a projections.QueryAuthorization) error {
			mu.Lock()
			seen = append(seen, a)
			mu.Unlock()
			switch a.Caller.UserID {
			case "mallory":
				return projections.Forbidden("%s may not read %s", a.Caller.UserID, a.ReadModel)
			case "":
				return errors.New("anonymous caller") // stays in the log
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	// A user reads only their own orders: a rule on the decoded request.
	if err := projections.RegisterQuery(svc, "orders", "get", func(ctx context.Context, req lookup) (any, uint64, error) {
		caller, ok := projections.CallerFrom(ctx)
		if !ok {
			return nil, 0, errors.New("no caller in the handler's context")
		}
		if !strings.HasPrefix(req.ID, caller.UserID+"-") {
			return nil, 0, projections.Forbidden("order %s is not %s's", req.ID, caller.UserID)
		}
		return map[string]string{"id": req.ID}, 0, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	for _, tc := range []struct {
		user, body, status, code, message string
	}{
		{"alice", `{"id":"alice-1"}`, "", "", ""},
		{"alice", `{"id":"bob-1"}`, "403", "forbidden", "order bob-1 is not alice's"},
		{"mallory", `{"id":"mallory-1"}`, "403", "forbidden", "mallory may not read orders"},
		// Refused before the body is read: no word on what is wrong with it.
		{"mallory", `{"id":`, "403", "forbidden", "mallory may not read orders"},
		{"", `{"id":"x-1"}`, "403", "forbidden", "forbidden"},
	} {
		m := nats.NewMsg("query.orders.get")
		m.Data = []byte(tc.body)
		if tc.user != "" {
			m.Header.Set(wire.HeaderUserID, tc.user)
		}
		reply, err := nc.RequestMsg(m, 5*time.Second)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.user, tc.body, err)
		}
		if got := reply.Header.Get("Nats-Service-Error-Code"); got != tc.status {
			t.Errorf("%s %s: status %q, want %q (%s)", tc.user, tc.body, got, tc.status, reply.Data)
			continue
		}
		if tc.status == "" {
			continue
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(reply.Data, &body); err != nil || body.Error.Code != tc.code || body.Error.Message != tc.message {
			t.Errorf("%s %s: %s, want %s %q", tc.user, tc.body, reply.Data, tc.code, tc.message)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 5 || seen[0].ReadModel != "orders" || seen[0].Query != "get" || string(seen[0].Request) != `{"id":"alice-1"}` ||
		seen[0].Caller.Claimed != "alice" || seen[0].Caller.Verified {
		t.Errorf("the authorizer saw %+v", seen)
	}
}
