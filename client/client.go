package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/wire"
)

// Defaults of a Client: the wire contract's prefixes, and the bound of a
// call whose context has no deadline.
const (
	DefaultCommandPrefix = "cmd"
	DefaultQueryPrefix   = "query"
	DefaultTimeout       = 10 * time.Second
)

var (
	// ErrNoService is returned when no service answers the subject: the
	// application is not running, or does not serve that command or query
	// (a running one answers an unknown name with 404 instead).
	ErrNoService = errors.New("client: no service answers")
	// ErrInvalidName is returned for a command or query name that is not
	// <aggregate type>.<command> or <read model>.<query>.
	ErrInvalidName = errors.New("client: invalid name")
)

// Client sends commands and queries on one NATS connection; it is safe for
// concurrent use and does not own the connection.
type Client struct {
	nc            *nats.Conn
	commandPrefix string
	queryPrefix   string
	timeout       time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithCommandPrefix sets the command service's subject prefix
// (commands.subject_prefix; default "cmd").
func WithCommandPrefix(prefix string) Option { return func(c *Client) { c.commandPrefix = prefix } }

// WithQueryPrefix sets the query service's subject prefix
// (queries.subject_prefix; default "query").
func WithQueryPrefix(prefix string) Option { return func(c *Client) { c.queryPrefix = prefix } }

// WithTimeout bounds a call whose context has no deadline (default 10s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client on nc.
func New(nc *nats.Conn, opts ...Option) *Client {
	c := &Client{nc: nc, commandPrefix: DefaultCommandPrefix, queryPrefix: DefaultQueryPrefix, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// CommandOption sets a header of one command, or of one query (UserID:
// who a trusted component asks for; the others mean nothing to a query).
type CommandOption func(nats.Header)

// CommandID makes the command idempotent: a resend with the same id is
// answered from its first run (wire.CommandReply.Duplicate), and the id
// used for another command is refused (409).
func CommandID(id string) CommandOption { return setHeader(wire.HeaderCommandID, id) }

// CorrelationID sets the correlation id the command's events carry
// (default: a new one per command).
func CorrelationID(id string) CommandOption { return setHeader(wire.HeaderCorrelationID, id) }

// ExpectedVersion refuses the command (409, wire.ErrConflict) unless the
// aggregate is at version v; 0 means it must not exist yet.
func ExpectedVersion(v uint64) CommandOption {
	return setHeader(wire.HeaderExpectedVersion, strconv.FormatUint(v, 10))
}

// UserID sets the Jetflow-User-Id header.
func UserID(id string) CommandOption { return setHeader(wire.HeaderUserID, id) }

func setHeader(name, value string) CommandOption {
	return func(h nats.Header) {
		if value != "" {
			h.Set(name, value)
		}
	}
}

// Send sends the command name ("<aggregate type>.<command>", as `jetflow
// send` names it: "order.place") with body: []byte and json.RawMessage
// are sent as they are, anything else is encoded as JSON. A trace context
// in ctx (wire.WithTraceParent) travels with it. A refusal is a
// *wire.Error.
func (c *Client) Send(ctx context.Context, name string, body any, opts ...CommandOption) (wire.CommandReply, error) {
	var reply wire.CommandReply
	data, err := c.SendRaw(ctx, name, body, opts...)
	if err != nil {
		return reply, err
	}
	if err := json.Unmarshal(data, &reply); err != nil {
		return reply, fmt.Errorf("client: reply of %s.%s: %w", c.commandPrefix, name, err)
	}
	return reply, nil
}

// SendRaw is Send returning the reply's body as the service sent it, for
// a caller that passes it on undecoded (`jetflow send` prints it).
func (c *Client) SendRaw(ctx context.Context, name string, body any, opts ...CommandOption) (json.RawMessage, error) {
	if err := checkName(name, "<aggregate type>.<command>", "order.place"); err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, "command", c.commandPrefix, name, body, opts)
	if err != nil {
		return nil, err
	}
	return resp.Data, nil
}

// send encodes body, sets opts' headers and sends it to prefix.name.
func (c *Client) send(ctx context.Context, kind, prefix, name string, body any, opts []CommandOption) (*nats.Msg, error) {
	data, err := encode(body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", kind, name, err)
	}
	msg := nats.NewMsg(prefix + "." + name)
	msg.Data = data
	for _, opt := range opts {
		opt(msg.Header)
	}
	return c.Request(ctx, msg)
}

// Query sends the query name ("<read model>.<query>": "orders.by_customer")
// with req (encoded as Send encodes a body; nil sends {}) and decodes the
// reply into out, a pointer (nil discards it; a *json.RawMessage keeps it
// as sent). It returns the stream sequence the read model had applied
// when it answered. Set the request's min_sequence to a command reply's
// Sequence to read your own write. opts set its headers: UserID names
// who the query is asked for where the query service trusts the header
// (queries.identity; on a server with authentication the caller is the
// connection's user, whatever it says).
func (c *Client) Query(ctx context.Context, name string, req, out any, opts ...CommandOption) (applied uint64, err error) {
	if err := checkName(name, "<read model>.<query>", "orders.by_customer"); err != nil {
		return 0, err
	}
	if req == nil {
		req = json.RawMessage("{}")
	}
	resp, err := c.send(ctx, "query", c.queryPrefix, name, req, opts)
	if err != nil {
		return 0, err
	}
	if s := resp.Header.Get(wire.HeaderSequence); s != "" {
		applied, _ = strconv.ParseUint(s, 10, 64)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			return applied, fmt.Errorf("client: reply of %s: %w", c.queryPrefix+"."+name, err)
		}
	}
	return applied, nil
}

// Request sends msg to a service and returns its successful reply, or the
// *wire.Error of an error reply. It is what Send and Query do once the
// body is encoded, for callers that build their own message.
func (c *Client) Request(ctx context.Context, msg *nats.Msg) (*nats.Msg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	if tp := wire.TraceParent(ctx); tp != "" && msg.Header.Get(wire.HeaderTraceParent) == "" {
		if msg.Header == nil {
			msg.Header = nats.Header{}
		}
		msg.Header.Set(wire.HeaderTraceParent, tp)
	}
	resp, err := c.nc.RequestMsgWithContext(ctx, msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%w %s", ErrNoService, msg.Subject)
	case err != nil:
		return nil, fmt.Errorf("client: %s: %w", msg.Subject, err)
	}
	if e := wire.ParseErrorReply(resp); e != nil {
		return nil, e
	}
	return resp, nil
}

func checkName(name, want, example string) error {
	a, b, ok := strings.Cut(name, ".")
	if !ok || a == "" || b == "" || strings.Contains(b, ".") || strings.ContainsAny(name, "*> \t\r\n") {
		return fmt.Errorf("%w %q: want %s, e.g. %s", ErrInvalidName, name, want, example)
	}
	return nil
}

func encode(body any) ([]byte, error) {
	switch b := body.(type) {
	case []byte:
		return b, nil
	case json.RawMessage:
		return b, nil
	}
	return json.Marshal(body)
}
