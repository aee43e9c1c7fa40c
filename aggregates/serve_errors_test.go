package aggregates

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/rpc"
	"github.com/jetflow/jetflow/streams"
)

// Every error Execute can return reaches the client with the wire
// contract's status and code.
func TestErrorsMapToTheWireContract(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{Invalid("bad"), rpc.StatusInvalid, rpc.CodeValidation},
		{NotFound("gone"), rpc.StatusNotFound, rpc.CodeNotFound},
		{Refused("no"), rpc.StatusConflict, rpc.CodeConflict},
		{&VersionMismatchError{Expected: 1, Actual: 2}, rpc.StatusConflict, rpc.CodeConflict},
		{&streams.ConflictError{AggregateType: "t", AggregateID: "i"}, rpc.StatusConflict, rpc.CodeConflict},
		{fmt.Errorf("%w: command c1: %w", ErrAlreadyApplied, &streams.DuplicateEventError{}), rpc.StatusConflict, rpc.CodeConflict},
		{&streams.PayloadTooLargeError{Size: 2, Max: 1}, rpc.StatusTooLarge, rpc.CodeTooLarge},
		{fmt.Errorf("x: %w", streams.ErrStreamBusy), rpc.StatusUnavailable, rpc.CodeUnavailable},
		{nats.ErrNoResponders, rpc.StatusUnavailable, rpc.CodeUnavailable},
		{context.DeadlineExceeded, rpc.StatusTimeout, rpc.CodeTimeout},
		{errors.New("surprise"), rpc.StatusInternal, rpc.CodeInternal},
	} {
		got := toRPCError(tc.err)
		if got == nil || got.Status != tc.status || got.Code != tc.code {
			t.Errorf("%v → %+v, want %d %s", tc.err, got, tc.status, tc.code)
		}
	}
	if toRPCError(nil) != nil {
		t.Error("nil error became a reply error")
	}
}
