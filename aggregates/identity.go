package aggregates

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jetflow/jetflow/rpc"
)

// IdentityMode says where the command service takes a command's user id
// from: the user id its events record (Jetflow-User-Id) and that
// authorization hooks see. It is rpc.IdentityMode, shared with the query
// service.
type IdentityMode = rpc.IdentityMode

// Identity modes; rpc.IdentityAuto and the others say what each does.
const (
	IdentityAuto   = rpc.IdentityAuto
	IdentityNATS   = rpc.IdentityNATS
	IdentityHeader = rpc.IdentityHeader
)

// ErrInvalidIdentityMode is returned by ParseIdentityMode for an unknown name.
var ErrInvalidIdentityMode = rpc.ErrInvalidIdentityMode

// ParseIdentityMode reads "auto", "nats" or "header".
func ParseIdentityMode(s string) (IdentityMode, error) { return rpc.ParseIdentityMode(s) }

// Caller is who sent a command, as far as the service can tell
// (rpc.Caller, which queries see too).
type Caller = rpc.Caller

// CallerFrom returns the caller of the command being handled in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) { return rpc.CallerFrom(ctx) }

// Authorization is what an authorizer decides on: who sends which command
// to which aggregate.
type Authorization struct {
	Caller Caller
	// Command is "<aggregate type>.<command>", e.g. "user.update".
	Command       string
	AggregateType string
	AggregateID   string
}

// ErrForbidden marks a command the caller may not send (403 forbidden).
var ErrForbidden = errors.New("forbidden")

// Forbidden returns a refusal for a caller who may not send the command
// (403); the message goes back to the client.
func Forbidden(format string, args ...any) error {
	return &DomainError{Kind: ErrForbidden, Message: fmt.Sprintf(format, args...)}
}

// WithAuthorizer has the service ask fn about every command, after its
// body is decoded and validated and before anything is loaded or written:
// nil lets it through, an error refuses it with a 403 (a Forbidden's
// message goes to the client; any other error's stays in the log). A
// CommandSpec's own Authorize runs after it.
func WithAuthorizer(fn func(ctx context.Context, a Authorization) error) ServiceOption {
	return serviceOption(func(o *serviceOptions) { o.authorize = fn })
}

type serviceOption func(*serviceOptions)

func (f serviceOption) applyService(o *serviceOptions) { f(o) }

// authorized runs the service's authorizer and the command's own; a
// refusal is a Forbidden error.
func authorized(ctx context.Context, err error, log *slog.Logger) error {
	if err == nil {
		return nil
	}
	var de *DomainError
	if errors.As(err, &de) && errors.Is(de.Kind, ErrForbidden) {
		return err
	}
	log.InfoContext(ctx, "command not authorized", "error", err)
	return &DomainError{Kind: ErrForbidden, Message: "forbidden"}
}
