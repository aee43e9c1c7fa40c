package aggregates

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
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
		{Invalid("bad"), wire.StatusInvalid, wire.CodeValidation},
		{NotFound("gone"), wire.StatusNotFound, wire.CodeNotFound},
		{Refused("no"), wire.StatusConflict, wire.CodeConflict},
		{&VersionMismatchError{Expected: 1, Actual: 2}, wire.StatusConflict, wire.CodeConflict},
		{&streams.ConflictError{AggregateType: "t", AggregateID: "i"}, wire.StatusConflict, wire.CodeConflict},
		{fmt.Errorf("%w: command c1: %w", ErrAlreadyApplied, &streams.DuplicateEventError{}), wire.StatusConflict, wire.CodeConflict},
		{&streams.PayloadTooLargeError{Size: 2, Max: 1}, wire.StatusTooLarge, wire.CodeTooLarge},
		{fmt.Errorf("x: %w", streams.ErrStreamBusy), wire.StatusUnavailable, wire.CodeUnavailable},
		{nats.ErrNoResponders, wire.StatusUnavailable, wire.CodeUnavailable},
		{context.DeadlineExceeded, wire.StatusTimeout, wire.CodeTimeout},
		{errors.New("surprise"), wire.StatusInternal, wire.CodeInternal},
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
