package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/jetflow/jetflow/internal/rpc"
	"github.com/jetflow/jetflow/streams"
)

// Defaults of the query service (DESIGN.md wire contract).
const (
	DefaultQueryServiceName = "jetflow-queries"
	DefaultQueryPrefix      = "query"
	DefaultQueryMaxPayload  = 64 << 10
	DefaultQueryTimeout     = 10 * time.Second
	DefaultQueryConcurrency = 256
	queryServiceVersion     = "1.0.0"
	// unknownQueryGroup must differ from micro's "q": the server groups
	// queue subscribers by name across overlapping subjects, so sharing the
	// name would let the catch-all take a known query's request.
	unknownQueryGroup = "jetflow-unknown-queries"
)

// QueryConfig configures the query service.
type QueryConfig struct {
	Name          string        // micro service name, default "jetflow-queries"
	SubjectPrefix string        // endpoints are <prefix>.<read model>.<query>
	MaxPayload    int           // largest accepted request body in bytes
	Timeout       time.Duration // bound of one query, min_sequence wait included
	Concurrency   int           // queries handled at once by this instance
	Logger        *slog.Logger
	Metrics       QueryMetrics
}

func (c *QueryConfig) defaults() {
	if c.Name == "" {
		c.Name = DefaultQueryServiceName
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultQueryPrefix
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultQueryMaxPayload
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultQueryTimeout
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultQueryConcurrency
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
}

// QueryFunc answers one decoded query: the reply body (encoded as JSON; a
// json.RawMessage is sent as it is) and the stream sequence the read model
// had applied when it answered.
type QueryFunc[Req any] func(ctx context.Context, req Req) (reply any, applied uint64, err error)

// Validator is implemented by query requests that check their own input;
// an error is answered 400 with its message.
type Validator interface{ Validate() error }

type queryRoute struct {
	readModel, query string
	handle           func(ctx context.Context, data []byte) (any, uint64, error)
}

// QueryService serves queries over NATS micro. Register queries, then
// Start; Stop drains it. Several instances share the load through micro's
// queue group.
type QueryService struct {
	nc     *nats.Conn
	cfg    QueryConfig
	routes map[string]queryRoute

	mu       sync.Mutex
	svc      micro.Service
	catchAll *nats.Subscription
	slots    chan struct{}
	inflight sync.WaitGroup
	baseCtx  context.Context
	cancel   context.CancelFunc
}

// NewQueryService returns a query service on nc.
func NewQueryService(nc *nats.Conn, cfg QueryConfig) (*QueryService, error) {
	cfg.defaults()
	if err := streams.ValidateSubjectPrefix(cfg.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("projections: query subject prefix: %w", err)
	}
	return &QueryService{nc: nc, cfg: cfg, routes: map[string]queryRoute{}}, nil
}

// RegisterQuery adds the query <prefix>.<readModel>.<name>; call it before
// Start. The body is decoded strictly into Req (unknown fields, trailing
// data and wrong types are 400s; an empty body is {}), then validated when
// Req implements Validator.
func RegisterQuery[Req any](s *QueryService, readModel, name string, fn QueryFunc[Req]) error {
	for _, tok := range []string{readModel, name} {
		if err := streams.ValidateAggregateType(tok); err != nil {
			return fmt.Errorf("projections: query %s.%s: %w", readModel, name, err)
		}
	}
	subject := s.cfg.SubjectPrefix + "." + readModel + "." + name
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.svc != nil {
		return fmt.Errorf("projections: register %s after Start", subject)
	}
	if _, dup := s.routes[subject]; dup {
		return fmt.Errorf("projections: query %s registered twice", subject)
	}
	s.routes[subject] = queryRoute{readModel: readModel, query: name, handle: func(ctx context.Context, data []byte) (any, uint64, error) {
		req, err := DecodeQuery[Req](data)
		if err != nil {
			return nil, 0, err
		}
		return fn(ctx, req)
	}}
	return nil
}

// DecodeQuery decodes and validates a query body the way the service does;
// the error is an *rpc.Error (400) naming the problem.
func DecodeQuery[Req any](data []byte) (Req, error) {
	var req Req
	if len(strings.TrimSpace(string(data))) == 0 {
		data = []byte("{}")
	}
	if err := rpc.DecodeStrict(data, &req); err != nil {
		return req, rpc.Errorf(rpc.StatusInvalid, rpc.CodeValidation, "%v", err)
	}
	if v, ok := any(&req).(Validator); ok {
		if err := v.Validate(); err != nil {
			var re *rpc.Error
			if errors.As(err, &re) {
				return req, re
			}
			return req, rpc.Errorf(rpc.StatusInvalid, rpc.CodeValidation, "%v", err)
		}
	}
	return req, nil
}

// Start registers the micro service and its endpoints.
func (s *QueryService) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.svc != nil {
		return errors.New("projections: query service already started")
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	s.slots = make(chan struct{}, s.cfg.Concurrency)
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        s.cfg.Name,
		Version:     queryServiceVersion,
		Description: "jetflow queries: " + s.cfg.SubjectPrefix + ".<read_model>.<query>",
	})
	if err != nil {
		return fmt.Errorf("projections: start query service: %w", err)
	}
	for subject, r := range s.routes {
		err := svc.AddEndpoint(r.readModel+"_"+r.query, micro.HandlerFunc(s.dispatch),
			micro.WithEndpointSubject(subject),
			micro.WithEndpointMetadata(map[string]string{"read_model": r.readModel, "query": r.query}))
		if err != nil {
			_ = svc.Stop()
			return fmt.Errorf("projections: endpoint %s: %w", subject, err)
		}
	}
	// Requests to subjects no endpoint serves would otherwise get "no
	// responders"; answer them with a 404 that names the known queries.
	s.catchAll, err = s.nc.QueueSubscribe(s.cfg.SubjectPrefix+".>", unknownQueryGroup, s.unknownQuery)
	if err != nil {
		_ = svc.Stop()
		return fmt.Errorf("projections: subscribe %s.>: %w", s.cfg.SubjectPrefix, err)
	}
	// Make sure the server has the subscriptions before callers send.
	if err := s.nc.Flush(); err != nil {
		_ = s.catchAll.Unsubscribe()
		_ = svc.Stop()
		return fmt.Errorf("projections: start query service: %w", err)
	}
	s.svc = svc
	return nil
}

// Stop stops taking queries and waits for those in flight to be answered.
func (s *QueryService) Stop(ctx context.Context) error {
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
		errs = append(errs, fmt.Errorf("projections: queries cancelled at shutdown: %w", ctx.Err()))
	}
	s.cancel()
	return errors.Join(errs...)
}

// dispatch hands a request to a bounded pool: micro calls an endpoint's
// handler serially, and a query may wait for min_sequence. The request's
// parts are taken here and the reply is published on the connection, not
// through micro.Request: micro reads the request's error state once the
// handler returns, so answering it later from another goroutine would race
// (the cost: micro's stats do not count query errors).
func (s *QueryService) dispatch(req micro.Request) {
	q := query{subject: req.Subject(), reply: req.Reply(), data: req.Data()}
	s.slots <- struct{}{}
	s.inflight.Add(1)
	go func() {
		defer func() { <-s.slots; s.inflight.Done() }()
		s.serve(q)
	}()
}

// query is one request, detached from micro.
type query struct {
	subject, reply string
	data           []byte
}

func (s *QueryService) serve(q query) {
	start := time.Now()
	r := s.routes[q.subject]
	var reply any
	var applied uint64
	var cause error
	if len(q.data) > s.cfg.MaxPayload {
		cause = rpc.Errorf(rpc.StatusTooLarge, rpc.CodeTooLarge, "request body is %d bytes, at most %d allowed", len(q.data), s.cfg.MaxPayload)
	} else {
		ctx, cancel := context.WithTimeout(s.baseCtx, s.cfg.Timeout)
		reply, applied, cause = s.run(ctx, r, q.data)
		cancel()
	}
	took := time.Since(start)
	msg := nats.NewMsg(q.reply)
	if applied > 0 {
		msg.Header.Set(rpc.HeaderSequence, strconv.FormatUint(applied, 10))
	}
	var body []byte
	if cause == nil {
		if body, cause = encodeReply(reply); cause != nil {
			s.cfg.Logger.Error("query reply not encodable", "query", q.subject, "error", cause)
		}
	}
	result := "ok"
	if cause != nil {
		rerr := toQueryError(cause)
		result = rerr.Code
		if rerr.Status >= 500 && rerr.Status != rpc.StatusTimeout {
			s.cfg.Logger.Warn("query failed", "query", q.subject, "status", rerr.Status, "error", cause, "took", took)
		}
		msg.Header.Set(micro.ErrorHeader, rerr.Message)
		msg.Header.Set(micro.ErrorCodeHeader, strconv.Itoa(rerr.Status))
		body = rerr.Body()
	}
	s.cfg.Metrics.QueryHandled(r.readModel, r.query, result, took)
	msg.Data = body
	if q.reply == "" {
		return
	}
	if err := s.nc.PublishMsg(msg); err != nil {
		s.cfg.Logger.Warn("reply not sent", "query", q.subject, "error", err)
	}
}

// encodeReply encodes a query's reply; a json.RawMessage is sent as it is
// (a read model that keeps its records as JSON need not encode them again).
func encodeReply(reply any) ([]byte, error) {
	if raw, ok := reply.(json.RawMessage); ok {
		return raw, nil
	}
	return json.Marshal(reply)
}

// run answers a query, turning a panic into an internal error.
func (s *QueryService) run(ctx context.Context, r queryRoute, data []byte) (reply any, applied uint64, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("query handler panicked", "read_model", r.readModel, "query", r.query, "panic", fmt.Sprint(p))
			err = errQueryPanicked
		}
	}()
	return r.handle(ctx, data)
}

var errQueryPanicked = errors.New("query handler panicked")

// toQueryError maps a query's error onto the wire contract's codes.
func toQueryError(err error) *rpc.Error {
	var re *rpc.Error
	var behind *BehindError
	switch {
	case errors.As(err, &re):
		return re
	case errors.As(err, &behind):
		return rpc.Errorf(rpc.StatusTimeout, rpc.CodeBehind,
			"read model %s is behind: it has applied stream sequence %d, not yet %d; retry later",
			behind.Projection, behind.Applied, behind.Wanted)
	case errors.Is(err, ErrNotReady):
		return rpc.Errorf(rpc.StatusUnavailable, rpc.CodeUnavailable, "%v; retry shortly", err)
	case errors.Is(err, context.DeadlineExceeded):
		return rpc.Errorf(rpc.StatusTimeout, rpc.CodeTimeout, "the query did not finish in time")
	}
	return rpc.Errorf(rpc.StatusInternal, rpc.CodeInternal, "internal error; see the service log")
}

func (s *QueryService) unknownQuery(msg *nats.Msg) {
	if _, known := s.routes[msg.Subject]; known || msg.Reply == "" {
		return
	}
	known := make([]string, 0, len(s.routes))
	for subject := range s.routes {
		known = append(known, subject)
	}
	slices.Sort(known)
	_ = rpc.RespondErrorMsg(msg, rpc.Errorf(rpc.StatusNotFound, rpc.CodeUnknownQuery,
		"unknown query %q; known queries: %s", msg.Subject, strings.Join(known, ", ")))
}
