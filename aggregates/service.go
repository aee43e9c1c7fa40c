package aggregates

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/jetflow/jetflow/internal/rpc"
	"github.com/jetflow/jetflow/streams"
)

// Defaults of the command service (DESIGN.md wire contract).
const (
	DefaultServiceName   = "jetflow-commands"
	DefaultSubjectPrefix = "cmd"
	DefaultMaxPayload    = 1 << 20
	DefaultTimeout       = 5 * time.Second
	DefaultConcurrency   = 256
	serviceVersion       = "1.0.0"
	// unknownQueueGroup must differ from micro's "q": the server groups
	// queue subscribers by name across overlapping subjects, so sharing the
	// name would let the catch-all take a known command's request.
	unknownQueueGroup = "jetflow-unknown-commands"
	maxHeaderBytes    = 256
)

// ServiceConfig configures the command service.
type ServiceConfig struct {
	Name          string        // micro service name, default "jetflow-commands"
	SubjectPrefix string        // endpoints are <prefix>.<aggregate type>.<command>
	MaxPayload    int           // largest accepted request body in bytes
	Timeout       time.Duration // bound of one command, load to reply
	Concurrency   int           // commands handled at once by this instance
	Logger        *slog.Logger
	Metrics       Metrics
}

func (c *ServiceConfig) defaults() {
	if c.Name == "" {
		c.Name = DefaultServiceName
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
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
	nc     *nats.Conn
	cfg    ServiceConfig
	routes map[string]route // by subject

	mu       sync.Mutex
	svc      micro.Service
	catchAll *nats.Subscription
	slots    chan struct{}
	inflight sync.WaitGroup
	baseCtx  context.Context
	cancel   context.CancelFunc
}

// NewService returns a command service on nc.
func NewService(nc *nats.Conn, cfg ServiceConfig) (*Service, error) {
	cfg.defaults()
	if err := streams.ValidateSubjectPrefix(cfg.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("aggregates: command subject prefix: %w", err)
	}
	return &Service{nc: nc, cfg: cfg, routes: map[string]route{}}, nil
}

// CommandSpec describes one command of an aggregate.
type CommandSpec[S State, C any] struct {
	// Name is the command's stable wire name ("create"): the endpoint is
	// <prefix>.<aggregate type>.<name>.
	Name string
	// AggregateID returns the id the command targets. A create may fill a
	// missing id with a new UUIDv7 and report generated: such an aggregate
	// cannot exist yet, so it is not loaded (the append's expectation of a
	// new aggregate still guards it).
	AggregateID func(cmd *C) (id string, generated bool)
	// Decide turns the command into events, or refuses it.
	Decide func(cmd C, inst *Instance[S]) ([]Change, error)
}

// Validator is implemented by commands that check their own input; an
// error is answered 400.
type Validator interface{ Validate() error }

type commandHandler[S State, C any] struct {
	repo *Repository[S]
	spec CommandSpec[S, C]
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.svc != nil {
		return fmt.Errorf("aggregates: register %s after Start", subject)
	}
	if _, dup := s.routes[subject]; dup {
		return fmt.Errorf("aggregates: command %s registered twice", subject)
	}
	s.routes[subject] = route{aggregateType: repo.Type(), command: spec.Name, h: &commandHandler[S, C]{repo: repo, spec: spec}}
	return nil
}

func (h *commandHandler[S, C]) handle(ctx context.Context, data []byte, cmd Command) (Outcome, error) {
	var c C
	if err := rpc.DecodeStrict(data, &c); err != nil {
		return Outcome{}, Invalid("%v", err)
	}
	id, generated := h.spec.AggregateID(&c)
	cmd.New = generated
	if err := streams.ValidateAggregateID(id); err != nil {
		return Outcome{}, Invalid("invalid id: %s", strings.TrimPrefix(err.Error(), "streams: invalid aggregate id "))
	}
	if v, ok := any(&c).(Validator); ok {
		if err := v.Validate(); err != nil {
			var de *DomainError
			if errors.As(err, &de) {
				return Outcome{}, err
			}
			return Outcome{}, Invalid("%v", err)
		}
	}
	out, err := h.repo.Execute(ctx, id, cmd, func(inst *Instance[S]) ([]Change, error) {
		return h.spec.Decide(c, inst)
	})
	out.AggregateID = id
	return out, err
}

// Start registers the micro service and its endpoints.
func (s *Service) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.svc != nil {
		return errors.New("aggregates: command service already started")
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	s.slots = make(chan struct{}, s.cfg.Concurrency)
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        s.cfg.Name,
		Version:     serviceVersion,
		Description: "jetflow commands: " + s.cfg.SubjectPrefix + ".<aggregate_type>.<command>",
	})
	if err != nil {
		return fmt.Errorf("aggregates: start command service: %w", err)
	}
	for subject, r := range s.routes {
		err := svc.AddEndpoint(r.aggregateType+"_"+r.command, micro.HandlerFunc(s.dispatch),
			micro.WithEndpointSubject(subject),
			micro.WithEndpointMetadata(map[string]string{"aggregate_type": r.aggregateType, "command": r.command}))
		if err != nil {
			_ = svc.Stop()
			return fmt.Errorf("aggregates: endpoint %s: %w", subject, err)
		}
	}
	// Requests to subjects no endpoint serves would otherwise get "no
	// responders"; answer them with a 404 that names the known commands.
	s.catchAll, err = s.nc.QueueSubscribe(s.cfg.SubjectPrefix+".>", unknownQueueGroup, s.unknownCommand)
	if err != nil {
		_ = svc.Stop()
		return fmt.Errorf("aggregates: subscribe %s.>: %w", s.cfg.SubjectPrefix, err)
	}
	// Make sure the server has the subscriptions before callers send.
	if err := s.nc.Flush(); err != nil {
		_ = s.catchAll.Unsubscribe()
		_ = svc.Stop()
		return fmt.Errorf("aggregates: start command service: %w", err)
	}
	s.svc = svc
	return nil
}

// Stop stops taking commands and waits for those in flight to be answered.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	svc, catchAll := s.svc, s.catchAll
	s.mu.Unlock()
	if svc == nil {
		return nil
	}
	var errs []error
	if err := catchAll.Drain(); err != nil {
		errs = append(errs, err)
	}
	if err := svc.Stop(); err != nil {
		errs = append(errs, err)
	}
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
		errs = append(errs, fmt.Errorf("aggregates: commands cancelled at shutdown: %w", ctx.Err()))
	}
	s.cancel()
	return errors.Join(errs...)
}

// dispatch hands a request to a bounded pool, so one slow command does not
// hold up the endpoint's subscription.
func (s *Service) dispatch(req micro.Request) {
	s.slots <- struct{}{}
	s.inflight.Add(1)
	go func() {
		defer func() { <-s.slots; s.inflight.Done() }()
		s.serve(req)
	}()
}

func (s *Service) unknownCommand(msg *nats.Msg) {
	if _, known := s.routes[msg.Subject]; known || msg.Reply == "" {
		return
	}
	known := make([]string, 0, len(s.routes))
	for subject := range s.routes {
		known = append(known, subject)
	}
	_ = rpc.RespondErrorMsg(msg, rpc.Errorf(rpc.StatusNotFound, rpc.CodeUnknownCommand,
		"unknown command %q; known commands: %s", msg.Subject, strings.Join(sortedCopy(known), ", ")))
}
