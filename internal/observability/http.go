package observability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jetflow/jetflow/lifecycle"
)

// Check is one readiness condition: nil when it holds, else why not.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger

	mu      sync.Mutex
	checks  []Check
	started bool
	done    chan struct{} // closed when Serve has returned
	ending  lifecycle.Ending
}

// NewServer listens on addr (host:port; port 0 picks one) and serves the
// metrics g gathers. Add readiness checks, then Start.
func NewServer(addr string, g prometheus.Gatherer, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("observability: listen %s: %w", addr, err)
	}
	s := &Server{ln: ln, log: log, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// AddCheck adds a readiness condition.
func (s *Server) AddCheck(c Check) {
	s.mu.Lock()
	s.checks = append(s.checks, c)
	s.mu.Unlock()
}

// Start serves in the background until Stop; a second call does nothing.
// The server ends on its own (Done, Err) when serving fails.
func (s *Server) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil
	}
	s.started = true
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics and health server stopped", "error", err)
			s.ending.Fail(fmt.Errorf("observability: serve %s: %w", s.Addr(), err))
		}
	}()
	return nil
}

// Done is closed once the server has ended: stopped, or failed.
func (s *Server) Done() <-chan struct{} { return s.ending.Done() }

// Err says why the server ended on its own; nil after Stop.
func (s *Server) Err() error { return s.ending.Err() }

// Stop shuts the server down, waiting for requests in flight until ctx
// ends; a server never started just releases its address.
func (s *Server) Stop(ctx context.Context) error {
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

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	s.mu.Lock()
	checks := append([]Check(nil), s.checks...)
	s.mu.Unlock()
	failed := map[string]string{}
	for _, c := range checks {
		if err := c.Check(ctx); err != nil {
			failed[c.Name] = err.Error()
		}
	}
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
