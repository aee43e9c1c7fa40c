package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
)

type lookup struct {
	ID string `json:"id"`
}

// A handler's refusal is answered with its kind's status and code and its
// own message, also when wrapped; any other error stays a 500 that hides
// the message.
func TestQueryRefusalsKeepTheirKindOnTheWire(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc := natstest.Connect(t, srv.URL)
	svc, err := projections.NewQueryService(nc, projections.QueryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	answers := map[string]error{
		"missing":  projections.NotFound("order %s not found", "o-1"),
		"wrapped":  fmt.Errorf("looking up: %w", projections.NotFound("order %s not found", "o-2")),
		"invalid":  projections.Invalid("page size %d is over 100", 500),
		"conflict": projections.Conflict("the report for %s is being rebuilt", "2026-12"),
		"broken":   errors.New("disk on fire"),
	}
	if err := projections.RegisterQuery(svc, "orders", "get", func(ctx context.Context, req lookup) (any, uint64, error) {
		return nil, 0, answers[req.ID]
	}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	for _, tc := range []struct {
		id, status, code, message string
	}{
		{"missing", "404", "not_found", "order o-1 not found"},
		{"wrapped", "404", "not_found", "order o-2 not found"},
		{"invalid", "400", "validation", "page size 500 is over 100"},
		{"conflict", "409", "conflict", "the report for 2026-12 is being rebuilt"},
		{"broken", "500", "internal", "internal error; see the service log"},
	} {
		msg, err := nc.Request("query.orders.get", []byte(`{"id":"`+tc.id+`"}`), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(msg.Data, &body); err != nil {
			t.Fatalf("%s: reply %q: %v", tc.id, msg.Data, err)
		}
		if got := msg.Header.Get("Nats-Service-Error-Code"); got != tc.status {
			t.Errorf("%s: status %q, want %s", tc.id, got, tc.status)
		}
		if body.Error.Code != tc.code || body.Error.Message != tc.message {
			t.Errorf("%s: error %+v, want %s %q", tc.id, body.Error, tc.code, tc.message)
		}
	}
}

func TestQueryErrorMatchesItsKind(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("wrapped: %w", projections.Invalid("bad page %d", 0))
	var qe *projections.QueryError
	if !errors.Is(err, projections.ErrQueryInvalid) || !errors.As(err, &qe) || qe.Message != "bad page 0" {
		t.Fatalf("errors.Is/As on %v: %+v", err, qe)
	}
	if errors.Is(projections.NotFound("x"), projections.ErrQueryInvalid) {
		t.Fatal("a not-found matched ErrQueryInvalid")
	}
}
