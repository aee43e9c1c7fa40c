package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/wire"
)

// IdentityMode says where a service takes the caller of a request from:
// the user id a command's events record (Jetflow-User-Id), and the caller
// that authorization hooks of commands and queries see.
type IdentityMode int

const (
	// IdentityAuto is IdentityNATS when the NATS server the service is
	// connected to requires authentication, else IdentityHeader.
	IdentityAuto IdentityMode = iota
	// IdentityNATS takes the caller from the NATS server: a request that
	// crossed accounts through a service import carries the server's
	// Nats-Request-Info stamp, whose user (when the import shares it) or
	// else account is the caller. The client's Jetflow-User-Id is then an
	// unverified claim (Caller.Claimed), never recorded. A request from
	// the service's own account carries no stamp: whoever holds that
	// account's credentials may write events directly, so its
	// Jetflow-User-Id is taken as it is (a component acting for a user).
	IdentityNATS
	// IdentityHeader takes the client's Jetflow-User-Id as it is: for a
	// server without authentication, where anyone could write anything.
	IdentityHeader
)

// String names the mode as the configuration does (commands.identity,
// queries.identity).
func (m IdentityMode) String() string {
	switch m {
	case IdentityNATS:
		return "nats"
	case IdentityHeader:
		return "header"
	}
	return "auto"
}

// ErrInvalidIdentityMode is returned by ParseIdentityMode for an unknown name.
var ErrInvalidIdentityMode = errors.New("unknown identity mode")

// ParseIdentityMode reads "auto" (or ""), "nats" or "header".
func ParseIdentityMode(s string) (IdentityMode, error) {
	switch s {
	case "auto", "":
		return IdentityAuto, nil
	case "nats":
		return IdentityNATS, nil
	case "header":
		return IdentityHeader, nil
	}
	return IdentityAuto, fmt.Errorf("%w %q: want auto, nats or header", ErrInvalidIdentityMode, s)
}

// Resolve turns IdentityAuto into what the connection's server asks for;
// the other modes stay as they are.
func (m IdentityMode) Resolve(nc *nats.Conn) IdentityMode {
	if m != IdentityAuto {
		return m
	}
	if nc != nil && nc.AuthRequired() {
		return IdentityNATS
	}
	return IdentityHeader
}

// Caller is who sent a request, as far as the service can tell.
type Caller struct {
	// UserID is who the request acts for: what a command's events record
	// as Jetflow-User-Id.
	UserID string
	// Account and User are the caller's NATS account and user as the
	// server stamped them on a request that crossed accounts (User only
	// when the import shares it); empty for a request from the service's
	// own account and in IdentityHeader mode.
	Account, User string
	// Verified is true when UserID comes from the NATS server rather than
	// from the request's Jetflow-User-Id.
	Verified bool
	// Claimed is the request's Jetflow-User-Id: who the client says it
	// acts for. Unverified unless it is also UserID in a trusted mode.
	Claimed string
}

type callerKey struct{}

// CallerFrom returns the caller of the request being handled in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// WithCaller returns ctx carrying c, for CallerFrom.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerOf works out who sent a request with headers h in mode m (a
// resolved mode: IdentityAuto counts as IdentityHeader); claimed is its
// Jetflow-User-Id. log gets a line about a Nats-Request-Info that is not
// the server's.
func CallerOf(m IdentityMode, h nats.Header, claimed string, log *slog.Logger) Caller {
	c := Caller{UserID: claimed, Claimed: claimed}
	if m != IdentityNATS {
		return c
	}
	info, present, err := wire.ParseRequestInfo(h)
	switch {
	case !present:
		return c // the service's own account
	case err != nil:
		// The server's stamp always parses: this one was written by a
		// sender inside the service's account, which is trusted anyway.
		log.Debug("Nats-Request-Info that is not a server's stamp", "error", err)
		return c
	}
	c.Account, c.User, c.Verified = info.Account, info.User, true
	c.UserID = info.User
	if c.UserID == "" {
		c.UserID = info.Account // the import does not share its users
	}
	return c
}
