package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/wire"
)

// Request is one request, detached from micro so that it can be answered
// from another goroutine.
type Request struct {
	Subject string
	Data    []byte
	Header  nats.Header
}

// Response is what a handler answers: a body, or an error.
type Response struct {
	Body   []byte
	Header nats.Header // extra reply headers (correlation id, sequence…)
	Err    *wire.Error
}

// Route is one endpoint of a Server.
type Route struct {
	Subject  string
	Name     string // the micro endpoint's name
	Metadata map[string]string
	Handle   func(ctx context.Context, req Request) Response
}

// ServerConfig describes a micro service.
type ServerConfig struct {
	Name, Version, Description string
	// SubjectPrefix is the first token of every endpoint; requests to
	// unknown subjects under it get a 404 naming the known ones.
	SubjectPrefix string
	// Noun names an endpoint in that 404 ("command", "query").
	Noun string
	// UnknownCode is the error code of that 404.
	UnknownCode string
	// Concurrency bounds the requests handled at once.
	Concurrency int
	// ReplyPrefixes are the subject prefixes a reply may go to (default
	// wire.ReplyPrefixes(), which says why); a request whose reply subject
	// is not under one is not handled.
	ReplyPrefixes []string
	Logger        *slog.Logger
}

// Server runs a NATS micro service whose handlers run on a bounded pool:
// micro calls an endpoint's handler serially, one request at a time, which
// would make every slow request hold up the next. Replies are published on
// the connection rather than through micro.Request, because micro reads a
// request's state once its handler returns; micro's stats therefore count
// requests but not errors, and the service's own figures (EndpointStats)
// ride in each endpoint's stats data. Several instances share the load
// through micro's queue group.
type Server struct {
	nc       *nats.Conn
	cfg      ServerConfig
	routes   map[string]Route
	counters map[string]*endpointCounters

	mu       sync.Mutex
	svc      micro.Service
	catchAll *nats.Subscription
	slots    chan struct{}
	reqs     *requests
	baseCtx  context.Context
	cancel   context.CancelFunc
	stopping bool
	ending   lifecycle.Ending
}

// NewServer returns a server on nc; add routes, then Start.
func NewServer(nc *nats.Conn, cfg ServerConfig) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 256
	}
	if len(cfg.ReplyPrefixes) == 0 {
		cfg.ReplyPrefixes = wire.ReplyPrefixes()
	}
	return &Server{nc: nc, cfg: cfg, routes: map[string]Route{}, counters: map[string]*endpointCounters{}, reqs: newRequests()}
}

// Add registers a route; it fails after Start, for a subject taken twice,
// and for one that is not a literal subject under the prefix (requests are
// routed by their exact subject).
func (s *Server) Add(r Route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.svc != nil {
		return fmt.Errorf("rpc: add %s after Start", r.Subject)
	}
	if !literalUnder(r.Subject, s.cfg.SubjectPrefix) {
		return fmt.Errorf("rpc: %s subject %q must be a literal subject under %q", s.cfg.Noun, r.Subject, s.cfg.SubjectPrefix+".")
	}
	if r.Handle == nil {
		return fmt.Errorf("rpc: %s %s has no handler", s.cfg.Noun, r.Subject)
	}
	if _, dup := s.routes[r.Subject]; dup {
		return fmt.Errorf("rpc: %s %s registered twice", s.cfg.Noun, r.Subject)
	}
	s.routes[r.Subject] = r
	s.counters[r.Subject] = &endpointCounters{}
	return nil
}

func literalUnder(subject, prefix string) bool {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok || rest == "" {
		return false
	}
	for _, token := range strings.Split(rest, ".") {
		if token == "" || token == "*" || token == ">" || strings.ContainsAny(token, " \t\r\n") {
			return false
		}
	}
	return true
}

// unknownQueueGroup must differ from micro's "q": the server groups queue
// subscribers by name across overlapping subjects, so sharing the name would
// let the catch-all take a known endpoint's request.
func (s *Server) unknownQueueGroup() string { return s.cfg.Name + "-unknown" }

// Start adds the micro service, its endpoints and the catch-all, and
// returns once the server has its subscriptions (ctx bounds that wait).
// The service ends on its own (Done, Err) when its connection closes or
// the server refuses it a subscription.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.svc != nil || s.stopping {
		return fmt.Errorf("rpc: %s already started", s.cfg.Name)
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	s.slots = make(chan struct{}, s.cfg.Concurrency)
	svc, err := micro.AddService(s.nc, micro.Config{
		Name: s.cfg.Name, Version: s.cfg.Version, Description: s.cfg.Description,
		StatsHandler: s.microStats,
		DoneHandler:  s.microDone,
		ErrorHandler: s.microError,
	})
	if err != nil {
		return fmt.Errorf("rpc: start %s: %w", s.cfg.Name, err)
	}
	for subject, r := range s.routes {
		err := svc.AddEndpoint(r.Name, micro.HandlerFunc(s.dispatch), micro.WithEndpointSubject(subject), micro.WithEndpointMetadata(r.Metadata))
		if err != nil {
			_ = svc.Stop()
			return fmt.Errorf("rpc: endpoint %s: %w", subject, err)
		}
	}
	s.catchAll, err = s.nc.QueueSubscribe(s.cfg.SubjectPrefix+".>", s.unknownQueueGroup(), s.unknown)
	if err == nil {
		// The server must have the subscriptions before callers send.
		fctx, cancel := withDefaultTimeout(ctx, flushTimeout)
		err = s.nc.FlushWithContext(fctx)
		cancel()
	}
	if err != nil {
		if s.catchAll != nil {
			_ = s.catchAll.Unsubscribe()
		}
		_ = svc.Stop()
		return fmt.Errorf("rpc: start %s: %w", s.cfg.Name, err)
	}
	s.svc = svc
	return nil
}

// abandonAfter is how long a stop whose ctx ended still waits for handlers
// to return once their contexts are cancelled.
const abandonAfter = time.Second

// flushTimeout bounds the shutdown round trip when Stop's ctx has no deadline.
const flushTimeout = 5 * time.Second

// Stop stops taking requests and waits until every request the service
// received, running or still queued for a slot, is answered. When ctx ends
// first, the handlers' contexts are cancelled and Stop waits abandonAfter
// more at most; a handler that ignores its context is left behind.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	svc, catchAll, stopping := s.svc, s.catchAll, s.stopping
	s.stopping = true
	s.mu.Unlock()
	if svc == nil || stopping {
		s.ending.Stopped()
		return nil
	}
	defer s.ending.Stopped()
	errs := []error{catchAll.Drain(), svc.Stop()}
	// After this round trip the server has dropped the subscriptions, and
	// every request it sent before is in this connection's buffers.
	fctx, cancel := withDefaultTimeout(ctx, flushTimeout)
	err := s.nc.FlushWithContext(fctx)
	cancel()
	if err != nil && ctx.Err() == nil && !errors.Is(err, nats.ErrConnectionClosed) {
		errs = append(errs, fmt.Errorf("rpc: %s: flush at shutdown: %w", s.cfg.Name, err))
	}
	if err := s.reqs.waitQuiet(ctx); err != nil {
		s.cancel()
		if left := s.reqs.waitIdle(abandonAfter); left > 0 {
			errs = append(errs, fmt.Errorf("rpc: %s: %d requests still running after their cancellation; abandoned", s.cfg.Name, left))
		}
		errs = append(errs, fmt.Errorf("rpc: %s requests cancelled at shutdown: %w", s.cfg.Name, err))
	}
	s.reqs.close()
	s.cancel()
	return errors.Join(errs...)
}

// Done is closed once the service has ended: stopped, or failed.
func (s *Server) Done() <-chan struct{} { return s.ending.Done() }

// Err says why the service ended on its own (nil after Stop).
func (s *Server) Err() error { return s.ending.Err() }

// microDone is called when micro's service stops: after Stop, or when
// the connection closed under it, which ends the server.
func (s *Server) microDone(micro.Service) {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if !stopping {
		s.ending.Fail(fmt.Errorf("rpc: %s stopped under it: %w", s.cfg.Name, nats.ErrConnectionClosed))
	}
}

// microError handles an asynchronous error on one of the service's
// subscriptions: a subscription the server refuses leaves an endpoint
// deaf, which ends the server; anything else (a slow consumer) is logged.
func (s *Server) microError(_ micro.Service, err *micro.NATSError) {
	if strings.Contains(strings.ToLower(err.Description), "permissions violation") {
		s.ending.Fail(fmt.Errorf("rpc: %s: subscription to %s refused: %w", s.cfg.Name, err.Subject, err))
		return
	}
	s.cfg.Logger.Warn("service subscription error", "service", s.cfg.Name, "subject", err.Subject, "error", err.Description)
}

// withDefaultTimeout bounds ctx by d when it has no deadline: nats.go's
// context calls insist on one.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func (s *Server) dispatch(mreq micro.Request) {
	req := Request{Subject: mreq.Subject(), Data: mreq.Data(), Header: nats.Header(mreq.Headers())}
	reply := mreq.Reply()
	if !s.replyAllowed(req.Subject, reply) {
		return
	}
	counters := s.counters[req.Subject]
	if !s.reqs.begin() {
		// Only a request that outlived the stop's quiet period gets here.
		if reply != "" {
			_ = s.nc.PublishMsg(Response{Err: wire.Errorf(wire.StatusUnavailable, wire.CodeUnavailable, "the %s service is stopping; send the request again", s.cfg.Name)}.message(reply))
		}
		return
	}
	// Counted before it may wait for a slot, so a stop waits for it too.
	s.slots <- struct{}{}
	counters.begin()
	go func() {
		defer func() { <-s.slots; s.reqs.end() }()
		start := time.Now()
		resp := s.handle(req)
		counters.end(time.Since(start), resp.Err)
		if reply == "" {
			return
		}
		if err := s.nc.PublishMsg(resp.message(reply)); err != nil {
			s.cfg.Logger.Warn("reply not sent", "subject", req.Subject, "error", err)
		}
	}()
}

// handle runs the route's handler; a panic becomes a 500 so one bad request
// never takes the service down.
func (s *Server) handle(req Request) (resp Response) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("handler panicked", "subject", req.Subject, "panic", fmt.Sprint(p))
			resp = Response{Err: wire.Errorf(wire.StatusInternal, wire.CodeInternal, "internal error; see the service log")}
		}
	}()
	return s.routes[req.Subject].Handle(s.baseCtx, req)
}

func (r Response) message(subject string) *nats.Msg {
	if r.Err == nil {
		return &nats.Msg{Subject: subject, Header: r.Header, Data: r.Body}
	}
	msg := r.Err.Reply(subject)
	for k, vs := range r.Header {
		msg.Header[k] = append(msg.Header[k], vs...)
	}
	return msg
}

func (s *Server) unknown(msg *nats.Msg) {
	if _, known := s.routes[msg.Subject]; known || msg.Reply == "" || !s.replyAllowed(msg.Subject, msg.Reply) {
		return
	}
	known := make([]string, 0, len(s.routes))
	for subject := range s.routes {
		known = append(known, subject)
	}
	slices.Sort(known)
	_ = s.nc.PublishMsg(wire.Errorf(wire.StatusNotFound, s.cfg.UnknownCode, "unknown %s %q; known %s: %s",
		s.cfg.Noun, msg.Subject, plural(s.cfg.Noun), strings.Join(known, ", ")).Reply(msg.Reply))
}

// plural is the English plural of a noun such as "command" or "query".
func plural(noun string) string {
	if n := len(noun); n >= 2 && noun[n-1] == 'y' && !strings.ContainsRune("aeiou", rune(noun[n-2])) {
		return noun[:n-1] + "ies"
	}
	return noun + "s"
}

// replyAllowed reports whether a request's reply may be published: none,
// or one to an inbox (see ServerConfig.ReplyPrefixes).
func (s *Server) replyAllowed(subject, reply string) bool {
	if reply == "" {
		return true
	}
	for _, p := range s.cfg.ReplyPrefixes {
		if strings.HasPrefix(reply, p) {
			return true
		}
	}
	s.cfg.Logger.Warn("request refused: its reply subject is not an inbox", "subject", subject, "reply", reply)
	return false
}
