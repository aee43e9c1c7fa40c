package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/rpc"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// Defaults of the query service (DESIGN.md wire contract).
const (
	DefaultQueryServiceName = "jetflow-queries"
	DefaultQueryPrefix      = "query"
	DefaultQueryMaxPayload  = 64 << 10
	DefaultQueryTimeout     = 10 * time.Second
	DefaultQueryConcurrency = 256
	queryServiceVersion     = "1.0.0"
)

// QueryConfig configures the query service.
type QueryConfig struct {
	Name          string        // micro service name, default "jetflow-queries"
	SubjectPrefix string        // endpoints are <prefix>.<read model>.<query>
	MaxPayload    int           // largest accepted request body in bytes
	Timeout       time.Duration // bound of one query, min_sequence wait included
	Concurrency   int           // queries handled at once by this instance
	// Identity says where a query's caller comes from (default
	// rpc.IdentityAuto: from the NATS server when it requires
	// authentication), for WithQueryAuthorizer and CallerFrom.
	Identity rpc.IdentityMode
}

func (c *QueryConfig) defaults() {
	c.Name = cmp.Or(c.Name, DefaultQueryServiceName)
	c.SubjectPrefix = cmp.Or(c.SubjectPrefix, DefaultQueryPrefix)
	c.MaxPayload = cmp.Or(max(c.MaxPayload, 0), DefaultQueryMaxPayload)
	c.Timeout = cmp.Or(max(c.Timeout, 0), DefaultQueryTimeout)
	c.Concurrency = cmp.Or(max(c.Concurrency, 0), DefaultQueryConcurrency)
}

// QueryFunc answers one decoded query: the reply body (encoded as JSON; a
// json.RawMessage is sent as it is) and the stream sequence the read model
// had applied when it answered.
type QueryFunc[Req any] func(ctx context.Context, req Req) (reply any, applied uint64, err error)

type queryRoute struct {
	readModel, query string
	handle           func(ctx context.Context, data []byte) (any, uint64, error)
}

// QueryService serves queries over NATS micro. Register queries, then
// Start; Stop drains it. Several instances share the load through micro's
// queue group.
type QueryService struct {
	cfg       QueryConfig
	log       *slog.Logger
	metrics   Metrics
	identity  rpc.IdentityMode // resolved
	authorize func(context.Context, QueryAuthorization) error
	server    *rpc.Server
}

// NewQueryService returns a query service on nc.
func NewQueryService(nc *nats.Conn, cfg QueryConfig, opts ...Option) (*QueryService, error) {
	cfg.defaults()
	o := options{logger: slog.New(slog.DiscardHandler), metrics: nopMetrics{}}
	for _, opt := range opts {
		opt(&o)
	}
	if err := streams.ValidateSubjectPrefix(cfg.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("projections: query subject prefix: %w", err)
	}
	return &QueryService{cfg: cfg, log: o.logger, metrics: o.metrics, identity: cfg.Identity.Resolve(nc), authorize: o.authorizeQuery,
		server: rpc.NewServer(nc, rpc.ServerConfig{
			Name:          cfg.Name,
			Version:       queryServiceVersion,
			Description:   "jetflow queries: " + cfg.SubjectPrefix + ".<read_model>.<query>",
			SubjectPrefix: cfg.SubjectPrefix,
			Noun:          "query",
			UnknownCode:   wire.CodeUnknownQuery,
			Concurrency:   cfg.Concurrency,
			Logger:        o.logger,
		})}, nil
}

// RegisterQuery adds the query <prefix>.<readModel>.<name>; call it before
// Start. The body is decoded strictly into Req (unknown fields, trailing
// data and wrong types are 400s; an empty body is {}), then validated when
// Req implements wire.Validator.
func RegisterQuery[Req any](s *QueryService, readModel, name string, fn QueryFunc[Req]) error {
	for _, tok := range []string{readModel, name} {
		if err := streams.ValidateAggregateType(tok); err != nil {
			return fmt.Errorf("projections: query %s.%s: %w", readModel, name, err)
		}
	}
	r := queryRoute{readModel: readModel, query: name, handle: func(ctx context.Context, data []byte) (any, uint64, error) {
		req, err := DecodeQuery[Req](data)
		if err != nil {
			return nil, 0, err
		}
		return fn(ctx, req)
	}}
	return s.server.Add(rpc.Route{
		Subject:  s.cfg.SubjectPrefix + "." + readModel + "." + name,
		Name:     readModel + "_" + name,
		Metadata: map[string]string{"read_model": readModel, "query": name},
		Handle:   func(ctx context.Context, req rpc.Request) rpc.Response { return s.serve(ctx, r, req) },
	})
}

// DecodeQuery decodes and validates a query body the way the service does;
// the error is an *wire.Error (400) naming the problem.
func DecodeQuery[Req any](data []byte) (Req, error) {
	var req Req
	if len(strings.TrimSpace(string(data))) == 0 {
		data = []byte("{}")
	}
	if err := wire.DecodeStrict(data, &req); err != nil {
		return req, wire.Errorf(wire.StatusInvalid, wire.CodeValidation, "%v", err)
	}
	if v, ok := any(&req).(wire.Validator); ok {
		if err := v.Validate(); err != nil {
			var re *wire.Error
			if errors.As(err, &re) {
				return req, re
			}
			return req, wire.Errorf(wire.StatusInvalid, wire.CodeValidation, "%v", err)
		}
	}
	return req, nil
}

// Start adds the micro service and its endpoints; it returns once the
// NATS server has them (ctx bounds that wait).
func (s *QueryService) Start(ctx context.Context) error { return s.server.Start(ctx) }

// Stop stops taking queries and waits for those in flight to be answered.
func (s *QueryService) Stop(ctx context.Context) error { return s.server.Stop(ctx) }

// Done is closed once the service has ended: stopped, or failed (its
// connection closed, a subscription refused).
func (s *QueryService) Done() <-chan struct{} { return s.server.Done() }

// Err says why the service ended on its own; nil after Stop.
func (s *QueryService) Err() error { return s.server.Err() }

// serve answers one query.
func (s *QueryService) serve(ctx context.Context, r queryRoute, req rpc.Request) rpc.Response {
	start := time.Now()
	var reply any
	var applied uint64
	var cause error
	caller := rpc.CallerOf(s.identity, req.Header, req.Header.Get(wire.HeaderUserID), s.log)
	ctx = rpc.WithCaller(ctx, caller)
	if s.authorize != nil {
		// Before anything else: a caller who may not ask learns nothing
		// of the query, not even that its body is malformed.
		a := QueryAuthorization{Caller: caller, ReadModel: r.readModel, Query: r.query, Request: req.Data}
		cause = authorizeQuery(ctx, s.authorize, a, s.log)
	}
	switch {
	case cause != nil:
	case len(req.Data) > s.cfg.MaxPayload:
		cause = wire.Errorf(wire.StatusTooLarge, wire.CodeTooLarge, "request body is %d bytes, at most %d allowed", len(req.Data), s.cfg.MaxPayload)
	default:
		qctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		reply, applied, cause = s.run(qctx, r, req.Data)
		cancel()
	}
	took := time.Since(start)
	var resp rpc.Response
	if applied > 0 {
		resp.Header = nats.Header{wire.HeaderSequence: {strconv.FormatUint(applied, 10)}}
	}
	if cause == nil {
		if resp.Body, cause = encodeReply(reply); cause != nil {
			s.log.Error("query reply not encodable", "query", req.Subject, "error", cause)
		}
	}
	result := "ok"
	if cause != nil {
		resp.Err = toQueryError(cause)
		result = resp.Err.Code
		if resp.Err.Status >= 500 && resp.Err.Status != wire.StatusTimeout {
			s.log.Warn("query failed", "query", req.Subject, "status", resp.Err.Status, "error", cause, "took", took)
		}
	}
	s.metrics.QueryHandled(r.readModel, r.query, result, took)
	return resp
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
			s.log.Error("query handler panicked", "read_model", r.readModel, "query", r.query, "panic", fmt.Sprint(p))
			err = errQueryPanicked
		}
	}()
	return r.handle(ctx, data)
}

var errQueryPanicked = errors.New("query handler panicked")

// queryRefusal maps a handler's QueryError onto its status and code; a
// Kind of its own (not one of the three) is a refusal of input (400).
func queryRefusal(e *QueryError) *wire.Error {
	switch {
	case errors.Is(e.Kind, ErrQueryNotFound):
		return wire.Errorf(wire.StatusNotFound, wire.CodeNotFound, "%s", e.Message)
	case errors.Is(e.Kind, ErrQueryConflict):
		return wire.Errorf(wire.StatusConflict, wire.CodeConflict, "%s", e.Message)
	case errors.Is(e.Kind, ErrQueryForbidden):
		return wire.Errorf(wire.StatusForbidden, wire.CodeForbidden, "%s", e.Message)
	}
	return wire.Errorf(wire.StatusInvalid, wire.CodeValidation, "%s", e.Message)
}

// toQueryError maps a query's error onto the wire contract's codes.
func toQueryError(err error) *wire.Error {
	var re *wire.Error
	var behind *BehindError
	var refused *QueryError
	switch {
	case errors.As(err, &re):
		return re
	case errors.As(err, &refused):
		return queryRefusal(refused)
	case errors.As(err, &behind):
		return wire.Errorf(wire.StatusTimeout, wire.CodeBehind,
			"read model %s is behind: it has applied stream sequence %d, not yet %d; retry later",
			behind.Projection, behind.Applied, behind.Wanted)
	case errors.Is(err, ErrNotReady):
		return wire.Errorf(wire.StatusUnavailable, wire.CodeUnavailable, "%v; retry shortly", err)
	case errors.Is(err, context.DeadlineExceeded):
		return wire.Errorf(wire.StatusTimeout, wire.CodeTimeout, "the query did not finish in time")
	}
	return wire.Errorf(wire.StatusInternal, wire.CodeInternal, "internal error; see the service log")
}
