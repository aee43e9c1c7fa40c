package jetflow

import (
	"context"
	"fmt"

	"github.com/jetflow/jetflow/aggregates"
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
