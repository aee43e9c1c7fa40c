package observability

import (
	"context"
	"encoding/json"
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

// Server serves /metrics, /healthz and /readyz; it is a
// lifecycle.Component (Start, Stop, Done, Err).
type Server struct {
	*lifecycle.HTTPServer
	log *slog.Logger
	mux *http.ServeMux

	mu     sync.Mutex
	checks []Check
}

// NewServer listens on addr (host:port; port 0 picks one) and serves the
// metrics g gathers. Add readiness checks, then Start.
func NewServer(addr string, g prometheus.Gatherer, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("observability: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	s := &Server{log: log, mux: mux}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	s.HTTPServer = lifecycle.NewHTTPServer("metrics and health", ln, &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, log)
	return s, nil
}

// Handle serves h at pattern beside /metrics, /healthz and /readyz (the
// web console at /ui/); call it before Start.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// AddCheck adds a readiness condition.
func (s *Server) AddCheck(c Check) {
	s.mu.Lock()
	s.checks = append(s.checks, c)
	s.mu.Unlock()
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	s.mu.Lock()
	checks := append([]Check(nil), s.checks...)
	s.mu.Unlock()
	// Why a check fails (stream names, sequences, the store's errors) is
	// for whoever is on the machine; a probe from elsewhere learns which.
	details := loopbackCaller(r)
	failed := map[string]string{}
	for _, c := range checks {
		if err := c.Check(ctx); err != nil {
			failed[c.Name] = "not ready (details for loopback callers and in the log)"
			if details {
				failed[c.Name] = err.Error()
			}
		}
	}
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// loopbackCaller reports whether r came from this machine.
func loopbackCaller(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
