package console

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jetflow/jetflow/lifecycle"
)

// Server serves the console on an address of its own (console.listen),
// when it is not mounted beside /metrics. "/" leads to the console. It is
// a lifecycle.Component.
type Server struct {
	*lifecycle.HTTPServer
}

// NewServer listens on addr (port 0 picks one) for h; Start serves.
func NewServer(addr string, h http.Handler, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("console: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(basePath, h)
	mux.Handle("GET /{$}", http.RedirectHandler(basePath, http.StatusSeeOther))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	return &Server{lifecycle.NewHTTPServer("console", ln, srv, log)}, nil
}
