package projections

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/jetflow/jetflow/rpc"
	"github.com/jetflow/jetflow/wire"
)

// QueryAuthorization is what a query authorizer decides on: who asks
// which query, with what request.
type QueryAuthorization struct {
	// Caller is who sent the query: on a server with authentication, the
	// user the NATS server vouches for (QueryConfig.Identity), never what
	// the client claims.
	Caller rpc.Caller
	// ReadModel and Query name it: query.<read model>.<query>.
	ReadModel, Query string
	// Request is the query's body as sent (not yet decoded).
	Request json.RawMessage
}

// WithQueryAuthorizer has the query service ask fn about every query,
// before its body is decoded: nil lets it through; Forbidden refuses it
// with a 403 whose message goes to the client, any other error with a
// plain 403 and a log line. A query's handler finds the same caller with
// CallerFrom, for rules that depend on the decoded request or on what
// the read model holds (a user reads only their own records). Only the
// query service takes this option.
func WithQueryAuthorizer(fn func(ctx context.Context, a QueryAuthorization) error) Option {
	return func(o *options) { o.authorizeQuery = fn }
}

// CallerFrom returns the caller of the query being handled in ctx.
func CallerFrom(ctx context.Context) (rpc.Caller, bool) { return rpc.CallerFrom(ctx) }

// ErrQueryForbidden marks a query the caller may not ask (403 forbidden).
var ErrQueryForbidden = errors.New("projections: forbidden")

// Forbidden returns a refusal of a caller who may not ask the query
// (403); the message goes to the client.
func Forbidden(format string, args ...any) error {
	return queryErrorf(ErrQueryForbidden, format, args...)
}

// authorizeQuery runs the authorizer; a refusal is a *wire.Error 403.
func authorizeQuery(ctx context.Context, fn func(context.Context, QueryAuthorization) error, a QueryAuthorization, log *slog.Logger) error {
	err := fn(ctx, a)
	if err == nil {
		return nil
	}
	var refused *QueryError
	if errors.As(err, &refused) && errors.Is(refused.Kind, ErrQueryForbidden) {
		return wire.Errorf(wire.StatusForbidden, wire.CodeForbidden, "%s", refused.Message)
	}
	log.InfoContext(ctx, "query not authorized", "read_model", a.ReadModel, "query", a.Query, "user", a.Caller.UserID, "error", err)
	return wire.Errorf(wire.StatusForbidden, wire.CodeForbidden, "forbidden")
}
