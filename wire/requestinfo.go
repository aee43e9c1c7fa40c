package wire

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// HeaderRequestInfo is the header a NATS server stamps on a request that
// crosses accounts through a service import (nats-server's ClientInfoHdr):
// JSON naming the requester's account and, when the import is declared
// with share: true, its user and connection name. The server replaces any
// value the requester sent, so across accounts it cannot be forged; inside
// one account it is not stamped and is whatever the sender wrote.
const HeaderRequestInfo = "Nats-Request-Info"

// ErrInvalidRequestInfo is returned for a Nats-Request-Info header that is
// not what a server stamps: not JSON, no account, control characters.
var ErrInvalidRequestInfo = errors.New("wire: invalid Nats-Request-Info header")

// RequestInfo is the part of a Nats-Request-Info header jetflow reads.
type RequestInfo struct {
	// Account is the requester's NATS account (always stamped).
	Account string `json:"acc"`
	// User is the authenticated user (the user name, or the public nkey of
	// an nkey or JWT user); stamped only when the import shares it.
	User string `json:"user,omitempty"`
	// Name is the connection name the client chose (nats.Name): a label,
	// not an identity.
	Name string `json:"name,omitempty"`
}

// maxRequestInfo bounds the header jetflow decodes: the server's stamp is
// a few hundred bytes, a user JWT included a few kilobytes.
const maxRequestInfo = 16 << 10

// ParseRequestInfo reads the Nats-Request-Info header of h. present says
// whether the header is there at all; a header that is there but not a
// server's stamp is an error matching ErrInvalidRequestInfo.
func ParseRequestInfo(h nats.Header) (info RequestInfo, present bool, err error) {
	v := h.Get(HeaderRequestInfo)
	if v == "" {
		return RequestInfo{}, false, nil
	}
	bad := func(why string) (RequestInfo, bool, error) {
		return RequestInfo{}, true, fmt.Errorf("%w: %s", ErrInvalidRequestInfo, why)
	}
	if len(v) > maxRequestInfo {
		return bad(fmt.Sprintf("%d bytes, at most %d", len(v), maxRequestInfo))
	}
	if err := json.Unmarshal([]byte(v), &info); err != nil {
		return bad("not a JSON object")
	}
	switch {
	case info.Account == "":
		return bad("no account")
	case HasControl(info.Account + info.User + info.Name):
		return bad("control characters")
	}
	return info, true, nil
}
