package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
)

// HTTPServer runs an *http.Server on a listener already held, as a
// Component: holding the address from construction lets a caller fail
// before anything starts when it is taken. Start serves in the
// background; Stop shuts down, letting requests in flight finish until
// its ctx ends (one never started just releases the address); serving
// that fails ends it on its own (Done, Err).
type HTTPServer struct {
	name string
	srv  *http.Server
	ln   net.Listener
	log  *slog.Logger

	mu      sync.Mutex
	started bool
	done    chan struct{}
	ending  Ending
}

// NewHTTPServer serves srv on ln once started; name says what it is in
// its log line and errors ("console", "metrics and health").
func NewHTTPServer(name string, ln net.Listener, srv *http.Server, log *slog.Logger) *HTTPServer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &HTTPServer{name: name, srv: srv, ln: ln, log: log, done: make(chan struct{})}
}

// Addr is the address the server listens on.
func (s *HTTPServer) Addr() string { return s.ln.Addr().String() }

// Start serves in the background until Stop; a second call does nothing.
func (s *HTTPServer) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil
	}
	s.started = true
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error(s.name+" server stopped", "error", err)
			s.ending.Fail(fmt.Errorf("%s: serve %s: %w", s.name, s.Addr(), err))
		}
	}()
	return nil
}

// Stop shuts the server down, waiting for requests in flight until ctx
// ends; a server never started just releases its address.
func (s *HTTPServer) Stop(ctx context.Context) error {
	defer s.ending.Stopped()
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return s.ln.Close()
	}
	err := s.srv.Shutdown(ctx)
	select {
	case <-s.done:
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
	return err
}

// Done is closed once the server has ended: stopped, or failed.
func (s *HTTPServer) Done() <-chan struct{} { return s.ending.Done() }

// Err says why the server ended on its own; nil after Stop.
func (s *HTTPServer) Err() error { return s.ending.Err() }
