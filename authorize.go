package jetflow

import (
	"context"
	"fmt"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/projections"
)

// AuthorizeCommands has serve ask authorize about every command of every
// aggregate before it runs: after the body is decoded and validated,
// before the aggregate is loaded. a.Caller is who sent it — on a server
// with authentication, the user the NATS server vouches for
// (commands.identity; README "Security"), never what the client claims.
// nil lets the command through; aggregates.Forbidden refuses it with a 403
// whose message goes to the client; any other error refuses it with a
// plain 403 and is logged. A command's own rule goes on its
// aggregates.CommandSpec.Authorize, which runs after this one.
func (a *App) AuthorizeCommands(authorize func(ctx context.Context, a aggregates.Authorization) error) {
	if authorize == nil {
		a.errs = append(a.errs, fmt.Errorf("%w: AuthorizeCommands needs a function", ErrInvalidRegistration))
		return
	}
	if a.domain.Authorize != nil {
		a.errs = append(a.errs, fmt.Errorf("%w: AuthorizeCommands registered twice", ErrInvalidRegistration))
		return
	}
	a.domain.Authorize = authorize
}

// AuthorizeQueries has serve ask authorize about every query of every read
// model before it runs, before its body is decoded. a.Caller is who sent
// it — on a server with authentication, the user the NATS server vouches
// for (queries.identity), never what the client claims. nil lets the
// query through; projections.Forbidden refuses it with a 403 whose message
// goes to the client; any other error refuses it with a plain 403 and is
// logged. A query's handler finds the same caller with
// projections.CallerFrom, for rules on the decoded request or on the
// records (a user reads only their own).
func (a *App) AuthorizeQueries(authorize func(ctx context.Context, a projections.QueryAuthorization) error) {
	if authorize == nil {
		a.errs = append(a.errs, fmt.Errorf("%w: AuthorizeQueries needs a function", ErrInvalidRegistration))
		return
	}
	if a.domain.AuthorizeQuery != nil {
		a.errs = append(a.errs, fmt.Errorf("%w: AuthorizeQueries registered twice", ErrInvalidRegistration))
		return
	}
	a.domain.AuthorizeQuery = authorize
}
