package natsserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

var (
	// ErrAnonymousNetwork refuses a server that would accept anonymous
	// clients on an address other hosts can reach: anyone there could
	// rewrite or delete the event store.
	ErrAnonymousNetwork = errors.New("natsserver: anonymous clients on a network address")
	// ErrEmptyPassword refuses a user whose password is empty (most often
	// a password variable set to ""): anyone could log in as that user.
	ErrEmptyPassword = errors.New("natsserver: a user has an empty password")
)

// hasAuth reports whether the server authenticates its clients at all.
func hasAuth(o *server.Options) bool {
	return len(o.Users) > 0 || len(o.Nkeys) > 0 || len(o.TrustedOperators) > 0 || len(o.TrustedKeys) > 0 ||
		o.AuthCallout != nil || o.Username != "" || o.Authorization != "" || o.CustomClientAuthentication != nil
}

// anonymous reports whether a client without credentials gets in: no
// authentication, or no_auth_user, which logs such a client in as a user.
func anonymous(o *server.Options) bool { return !hasAuth(o) || o.NoAuthUser != "" }

// loopback reports whether host is reachable from this machine only.
// "" and 0.0.0.0 (or ::) are every interface; a host name other than
// localhost may resolve to anything.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkAuth refuses empty passwords, and anonymous clients off loopback
// unless allowAnonymous.
func checkAuth(o *server.Options, allowAnonymous bool) error {
	if o.Username != "" && o.Password == "" {
		return fmt.Errorf("%w: user %q (authorization block): set a password, or check that its variable is not empty", ErrEmptyPassword, o.Username)
	}
	for _, u := range o.Users {
		// A bcrypt hash or a plain password; never "". Nkey users are in o.Nkeys.
		if u.Password == "" {
			return fmt.Errorf("%w: user %q: set a password, or check that its variable is not empty", ErrEmptyPassword, u.Username)
		}
	}
	if anonymous(o) && !loopback(o.Host) && !allowAnonymous {
		addr := net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
		if o.Host == "" || o.Host == "0.0.0.0" || o.Host == "::" {
			addr += " (every interface)"
		}
		return fmt.Errorf("%w: the embedded server would listen on %s with %s; "+
			"load a nats.conf with users (--nats-config nats.conf, see README \"Security\"), listen on 127.0.0.1, "+
			"or, knowing anyone who reaches it may rewrite or delete the event store, set server.insecure_allow_anonymous "+
			"(--insecure-allow-anonymous)", ErrAnonymousNetwork, addr, AuthDescription(o))
	}
	return nil
}

// AuthDescription says how the server authenticates clients, for the
// start-up log: "none: anonymous clients", "users and passwords (3
// users)", "nkeys (2)", "operator JWTs", "auth callout", "a token", with
// "; anonymous clients log in as <user>" under no_auth_user.
func AuthDescription(o *server.Options) string {
	var parts []string
	if n := len(o.Users); n > 0 || o.Username != "" {
		if o.Username != "" {
			n++
		}
		parts = append(parts, fmt.Sprintf("users and passwords (%d %s)", n, plural(n, "user")))
	}
	if n := len(o.Nkeys); n > 0 {
		parts = append(parts, fmt.Sprintf("nkeys (%d %s)", n, plural(n, "user")))
	}
	if len(o.TrustedOperators) > 0 || len(o.TrustedKeys) > 0 {
		parts = append(parts, "operator JWTs")
	}
	if o.AuthCallout != nil {
		parts = append(parts, "auth callout")
	}
	if o.Authorization != "" {
		parts = append(parts, "a token")
	}
	if o.CustomClientAuthentication != nil {
		parts = append(parts, "custom authentication")
	}
	if len(parts) == 0 {
		return "none: anonymous clients"
	}
	desc := strings.Join(parts, ", ")
	if o.NoAuthUser != "" {
		desc += "; anonymous clients log in as " + strconv.Quote(o.NoAuthUser)
	}
	return desc
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// Anonymous reports whether clients without credentials get in.
func Anonymous(o *server.Options) bool { return anonymous(o) }

// Loopback reports whether the server's client address is reachable from
// this machine only.
func Loopback(o *server.Options) bool { return loopback(o.Host) }
