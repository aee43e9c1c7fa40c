package jetflowtest

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
)

// Server is a real embedded JetStream server, started for one test by
// RunServer or for a program, an Example or a demo by StartServer.
type Server struct {
	s        *natstest.Server
	storeDir string
	// ownDir: StartServer created storeDir, and Close removes it.
	ownDir   bool
	closeDir sync.Once
	closeErr error
}

// ServerOption configures RunServer and StartServer.
type ServerOption func(*serverOptions)

type serverOptions struct {
	storeDir string
	logger   *slog.Logger
}

// WithStoreDir keeps JetStream's files in dir instead of a temporary dir,
// so a second server on dir (after Shutdown or Close) finds what the
// first one stored. The caller owns dir: neither RunServer nor Close
// removes it.
func WithStoreDir(dir string) ServerOption {
	return func(o *serverOptions) { o.storeDir = dir }
}

// WithServerLogger sends the server's log lines to l (default: none), for
// example slog.New(slog.NewTextHandler(t.Output(), nil)).
func WithServerLogger(l *slog.Logger) ServerOption {
	return func(o *serverOptions) { o.logger = l }
}

// RunServer starts a JetStream server on a random loopback port with its
// store in a temporary dir of t, and waits until it accepts connections.
// t.Cleanup shuts it down and removes the dir; connections opened with
// Connect or JetStream are closed before. A server that cannot start fails
// the test.
func RunServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.storeDir == "" {
		o.storeDir = t.TempDir()
	}
	s := natstest.RunServerWithConfig(t, natsserver.Config{StoreDir: o.storeDir, Logger: o.logger})
	return &Server{s: s, storeDir: o.storeDir}
}

// StartServer starts a JetStream server on a random loopback port, as
// RunServer does, where there is no *testing.T to tear it down: in an
// Example function, a small program, a main that demos a domain. Its
// store is a new temporary dir unless WithStoreDir names one. It returns
// once the server accepts connections. The caller stops it with Close,
// which also removes the temporary store dir:
//
//	srv, err := jetflowtest.StartServer()
//	if err != nil {
//		return err
//	}
//	defer srv.Close()
//	nc, err := nats.Connect(srv.URL())
func StartServer(opts ...ServerOption) (*Server, error) {
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	own := o.storeDir == ""
	if own {
		dir, err := os.MkdirTemp("", "jetflowtest-")
		if err != nil {
			return nil, fmt.Errorf("jetflowtest: store dir: %w", err)
		}
		o.storeDir = dir
	}
	srv, err := natsserver.Start(natsserver.Config{StoreDir: o.storeDir, Logger: o.logger})
	if err != nil {
		if own {
			_ = os.RemoveAll(o.storeDir)
		}
		return nil, fmt.Errorf("jetflowtest: start server: %w", err)
	}
	return &Server{s: &natstest.Server{Server: srv, URL: srv.ClientURL()}, storeDir: o.storeDir, ownDir: own}, nil
}

// URL is the nats:// address clients connect to.
func (s *Server) URL() string { return s.s.URL }

// StoreDir is the dir JetStream keeps its files in.
func (s *Server) StoreDir() string { return s.storeDir }

// Connect opens a client connection to the server, closed by t.Cleanup.
// A connection that fails fails the test.
func (s *Server) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return s.s.Connect(t, opts...)
}

// JetStream opens a client connection, closed by t.Cleanup, and returns it
// with its JetStream context.
func (s *Server) JetStream(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return s.s.JetStream(t)
}

// Shutdown stops the server now and waits until it has stopped and its
// store dir is free, to test what clients do when the server goes away, or
// to start another server on the same store (WithStoreDir). It keeps the
// store dir. Calling it again, or the cleanup after it, does nothing more.
func (s *Server) Shutdown() { natsserver.Stop(s.s.Server) }

// Close shuts the server down as Shutdown does, then removes the
// temporary store dir StartServer created; a dir given with WithStoreDir
// stays, and so does the dir of a server from RunServer (the test removes
// it). Clients still connected lose the connection. Calling it again
// returns what the first call did.
func (s *Server) Close() error {
	s.Shutdown()
	s.closeDir.Do(func() {
		if s.ownDir {
			if err := os.RemoveAll(s.storeDir); err != nil {
				s.closeErr = fmt.Errorf("jetflowtest: remove store dir: %w", err)
			}
		}
	})
	return s.closeErr
}

// NATS is the underlying nats-server, for what this kit does not wrap
// (monitoring, JetStream state, account limits).
func (s *Server) NATS() *server.Server { return s.s.Server }

// Cluster is a 3-node JetStream cluster started for one test.
type Cluster struct {
	c *natstest.Cluster
}

// RunCluster starts a 3-node JetStream cluster on loopback, each node with
// a temporary store dir, and waits until it has elected its meta leader
// and every node is current; t.Cleanup shuts every node down.
//
// It is slow: the first election takes several seconds (6 or more on a
// small machine). Keep cluster tests few, for what only a cluster shows
// (R3 streams, a node going away), and skip them under -short:
//
//	if testing.Short() {
//		t.Skip("cluster test")
//	}
func RunCluster(t testing.TB) *Cluster {
	t.Helper()
	return &Cluster{c: natstest.RunCluster(t)}
}

// URL lists every node's client address, comma separated, as nats.Connect
// takes it.
func (c *Cluster) URL() string { return c.c.URL }

// URLs are the nodes' client addresses.
func (c *Cluster) URLs() []string { return strings.Split(c.c.URL, ",") }

// Connect opens a client connection to the cluster, closed by t.Cleanup.
func (c *Cluster) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return c.c.Connect(t, opts...)
}

// JetStream opens a client connection to the cluster, closed by t.Cleanup,
// and returns it with its JetStream context.
func (c *Cluster) JetStream(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := c.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetflowtest: jetstream: %v", err)
	}
	return nc, js
}

// Nodes are the cluster's servers, for tests that stop one
// (its Shutdown) or look at who leads.
func (c *Cluster) Nodes() []*server.Server { return c.c.Servers }
