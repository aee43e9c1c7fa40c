package aggregates

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/rpc"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// Defaults of the command service (DESIGN.md wire contract).
const (
	DefaultServiceName   = "jetflow-commands"
	DefaultSubjectPrefix = "cmd"
	DefaultMaxPayload    = 1 << 20
	DefaultTimeout       = 5 * time.Second
	DefaultConcurrency   = 256
	serviceVersion       = "1.0.0"
	maxHeaderBytes       = 256
)

// ServiceConfig configures the command service.
type ServiceConfig struct {
	Name          string        // micro service name, default "jetflow-commands"
	SubjectPrefix string        // endpoints are <prefix>.<aggregate type>.<command>
	MaxPayload    int           // largest accepted request body in bytes
	Timeout       time.Duration // bound of one command, load to reply
	Concurrency   int           // commands handled at once by this instance
	// Identity says where a command's user id comes from (default
	// IdentityAuto: from the NATS server when it requires authentication).
	Identity IdentityMode
}

func (c *ServiceConfig) defaults() {
	c.Name = cmp.Or(c.Name, DefaultServiceName)
	c.SubjectPrefix = cmp.Or(c.SubjectPrefix, DefaultSubjectPrefix)
	c.MaxPayload = cmp.Or(max(c.MaxPayload, 0), DefaultMaxPayload)
	c.Timeout = cmp.Or(max(c.Timeout, 0), DefaultTimeout)
	c.Concurrency = cmp.Or(max(c.Concurrency, 0), DefaultConcurrency)
}

// handler executes one decoded command kind.
type handler interface {
	handle(ctx context.Context, data []byte, cmd Command) (Outcome, error)
}

type route struct {
	aggregateType, command string
	h                      handler
}

// Service is the command service. Register commands, then Start; Stop
// drains it. Several instances (processes) share the load through micro's
// queue group.
type Service struct {
	cfg    ServiceConfig
	log    *slog.Logger
	obs    Metrics
	server *rpc.Server
	// identity is cfg.Identity resolved against the connection's server.
	identity  IdentityMode
	authorize func(context.Context, Authorization) error
	// repos are the repositories commands were registered with, by
	// aggregate type (the first one of each): what Position loads with.
	repos map[string]positioner
	// commands are the registered commands' names, "<type>.<command>".
	commands []string
}

// NewService returns a command service on nc.
func NewService(nc *nats.Conn, cfg ServiceConfig, opts ...ServiceOption) (*Service, error) {
	cfg.defaults()
	o := serviceOptions{log: slog.New(slog.DiscardHandler), metrics: nopMetrics{}}
	for _, opt := range opts {
		opt.applyService(&o)
	}
	if err := streams.ValidateSubjectPrefix(cfg.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("aggregates: command subject prefix: %w", err)
	}
	return &Service{cfg: cfg, log: o.log, obs: o.metrics, identity: cfg.Identity.Resolve(nc), authorize: o.authorize, server: rpc.NewServer(nc, rpc.ServerConfig{
		Name:          cfg.Name,
		Version:       serviceVersion,
		Description:   "jetflow commands: " + cfg.SubjectPrefix + ".<aggregate_type>.<command>",
		SubjectPrefix: cfg.SubjectPrefix,
		Noun:          "command",
		UnknownCode:   wire.CodeUnknownCommand,
		Concurrency:   cfg.Concurrency,
		Logger:        o.log,
	})}, nil
}

// CommandSpec describes one command of an aggregate.
type CommandSpec[S State, C any] struct {
	// Name is the command's stable wire name ("create"): the endpoint is
	// <prefix>.<aggregate type>.<name>.
	Name string
	// AggregateID returns the id the command targets. A create whose id
	// is optional returns "" when the client sent none and sets AssignID.
	AggregateID func(cmd *C) string
	// AssignID receives, before Decide, the id the service chose for a
	// command that came without one: a new UUIDv7, or, when the request
	// carries Jetflow-Command-Id, a UUID derived from the aggregate type and
	// that command id, so a resend reaches what the first one created.
	AssignID func(cmd *C, id string)
	// Authorize, when set, decides whether caller may send cmd, after the
	// service's authorizer (WithAuthorizer) and before anything is loaded:
	// Forbidden refuses it with a 403 naming why, any other error with a
	// plain 403. It may also copy the caller into cmd (cmd.By =
	// caller.UserID) for a Decide that checks ownership against the state.
	Authorize func(ctx context.Context, caller Caller, cmd *C) error
	// Decide turns the command into events, or refuses it.
	Decide func(cmd C, inst *Instance[S]) ([]Change, error)
}

type commandHandler[S State, C any] struct {
	repo *Repository[S]
	spec CommandSpec[S, C]
	name string // "<aggregate type>.<command>", e.g. "user.create"
	// authorize is the service's authorizer (WithAuthorizer), or nil.
	authorize func(context.Context, Authorization) error
	log       *slog.Logger
}

// Register adds a command to the service; call it before Start.
func Register[S State, C any](s *Service, repo *Repository[S], spec CommandSpec[S, C]) error {
	if err := streams.ValidateAggregateType(spec.Name); err != nil {
		return fmt.Errorf("aggregates: command name %q: %w", spec.Name, err)
	}
	if spec.AggregateID == nil || spec.Decide == nil {
		return fmt.Errorf("aggregates: command %s.%s needs AggregateID and Decide", repo.Type(), spec.Name)
	}
	subject := s.cfg.SubjectPrefix + "." + repo.Type() + "." + spec.Name
	if _, ok := s.repos[repo.Type()]; !ok {
		if s.repos == nil {
			s.repos = map[string]positioner{}
		}
		s.repos[repo.Type()] = repo
	}
	r := route{aggregateType: repo.Type(), command: spec.Name, h: &commandHandler[S, C]{repo: repo, spec: spec, name: repo.Type() + "." + spec.Name,
		authorize: s.authorize, log: s.log}}
	if err := s.server.Add(rpc.Route{
		Subject:  subject,
		Name:     r.aggregateType + "_" + r.command,
		Metadata: map[string]string{"aggregate_type": r.aggregateType, "command": r.command},
		Handle:   func(ctx context.Context, req rpc.Request) rpc.Response { return s.serve(ctx, r, req) },
	}); err != nil {
		return err
	}
	s.commands = append(s.commands, r.aggregateType+"."+r.command)
	return nil
}

func (h *commandHandler[S, C]) handle(ctx context.Context, data []byte, cmd Command) (Outcome, error) {
	var c C
	if err := wire.DecodeStrict(data, &c); err != nil {
		return Outcome{}, Invalid("%v", err)
	}
	id := h.spec.AggregateID(&c)
	if id == "" && h.spec.AssignID != nil {
		id, cmd.New = newAggregateID(h.repo.Type(), cmd)
		h.spec.AssignID(&c, id)
	}
	if err := streams.ValidateAggregateID(id); err != nil {
		return Outcome{}, Invalid("invalid id: %s", strings.TrimPrefix(err.Error(), "streams: invalid aggregate id "))
	}
	if v, ok := any(&c).(wire.Validator); ok {
		if err := v.Validate(); err != nil {
			var de *DomainError
			if errors.As(err, &de) {
				return Outcome{}, err
			}
			return Outcome{}, Invalid("%v", err)
		}
	}
	cmd.Name = h.name
	if cmd.Idempotent {
		cmd.Fingerprint = Fingerprint(h.name, id, canonicalBody(&c, data))
	}
	if err := h.authorized(ctx, id, &c); err != nil {
		return Outcome{}, err
	}
	out, err := h.repo.Execute(ctx, id, cmd, func(inst *Instance[S]) ([]Change, error) {
		return h.spec.Decide(c, inst)
	})
	out.AggregateID = id
	return out, err
}

// authorized asks the service's authorizer, then the command's own.
func (h *commandHandler[S, C]) authorized(ctx context.Context, id string, c *C) error {
	caller, _ := CallerFrom(ctx)
	if h.authorize != nil {
		a := Authorization{Caller: caller, Command: h.name, AggregateType: h.repo.Type(), AggregateID: id}
		if err := authorized(ctx, h.authorize(ctx, a), h.log); err != nil {
			return err
		}
	}
	if h.spec.Authorize != nil {
		return authorized(ctx, h.spec.Authorize(ctx, caller, c), h.log)
	}
	return nil
}

// Identity is the identity mode the service runs in, IdentityAuto
// resolved: IdentityNATS or IdentityHeader.
func (s *Service) Identity() IdentityMode { return s.identity }

// createIDNamespace roots the aggregate ids derived from command ids.
var createIDNamespace = uuid.MustParse("0b9b7f36-5f4e-4d0c-9a8e-7c7e3d2a51b4")

// newAggregateID picks the id of an aggregate a command creates without
// naming it. A fresh UUIDv7 cannot exist yet, so it is not loaded (the
// append's expectation of a new aggregate still guards it); an id derived
// from the client's command id is loaded, so a resend finds its result.
func newAggregateID(aggregateType string, cmd Command) (id string, isNew bool) {
	if cmd.Idempotent {
		return uuid.NewSHA1(createIDNamespace, []byte(aggregateType+"\x00"+cmd.ID)).String(), false
	}
	return streams.NewEventID(), true
}

// Start adds the micro service and its endpoints; it returns once the
// NATS server has them (ctx bounds that wait).
func (s *Service) Start(ctx context.Context) error { return s.server.Start(ctx) }

// Stop stops taking commands and waits for those in flight to be answered.
func (s *Service) Stop(ctx context.Context) error { return s.server.Stop(ctx) }

// Done is closed once the service has ended: stopped, or failed (its
// connection closed, a subscription refused).
func (s *Service) Done() <-chan struct{} { return s.server.Done() }

// Err says why the service ended on its own; nil after Stop.
func (s *Service) Err() error { return s.server.Err() }
