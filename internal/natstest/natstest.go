package natstest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
)

// Server is one embedded JetStream server started for a test.
type Server struct {
	*server.Server
	// URL is the nats:// address clients connect to.
	URL string
}

// RunServer starts a JetStream server on a random loopback port with a
// temporary store; t.Cleanup shuts it down.
func RunServer(t testing.TB) *Server {
	t.Helper()
	s, err := natsserver.Start(natsserver.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("natstest: start server: %v", err)
	}
	t.Cleanup(func() { natsserver.Stop(s) })
	return &Server{Server: s, URL: s.ClientURL()}
}

// RunServerWithConfig starts a server from cfg (StoreDir defaults to a temp dir).
func RunServerWithConfig(t testing.TB, cfg natsserver.Config) *Server {
	t.Helper()
	if cfg.StoreDir == "" {
		cfg.StoreDir = t.TempDir()
	}
	s, err := natsserver.Start(cfg)
	if err != nil {
		t.Fatalf("natstest: start server: %v", err)
	}
	t.Cleanup(func() { natsserver.Stop(s) })
	return &Server{Server: s, URL: s.ClientURL()}
}

// Connect opens a client connection to url, closed by t.Cleanup.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("natstest: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Connect opens a client connection to the server.
func (s *Server) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return Connect(t, s.URL, opts...)
}

// JetStream opens a connection and returns its JetStream context.
func (s *Server) JetStream(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := s.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}

// Cluster is a 3-node in-process JetStream cluster.
type Cluster struct {
	Servers []*server.Server
	// URL lists every node's client address, comma separated, as nats.Connect takes it.
	URL string
}

// ClusterReadyTimeout bounds the wait for the first meta leader election.
const ClusterReadyTimeout = 30 * time.Second

// RunCluster starts a 3-node JetStream cluster on loopback and waits until a
// meta leader with 3 peers exists and every node is current. A first election
// takes several seconds, so tests that need a cluster are few; call
// SkipIfShort first.
func RunCluster(t testing.TB) *Cluster {
	t.Helper()
	var c *Cluster
	var err error
	// Route ports are picked free and handed over, so another test may
	// take one in between: start again on new ports then.
	for attempt := 0; attempt < 3; attempt++ {
		if c, err = startCluster(t); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ClusterReadyTimeout)
	defer cancel()
	if err := WaitClusterReady(ctx, c.Servers); err != nil {
		t.Fatalf("natstest: %v", err)
	}
	return c
}

// startCluster starts the 3 nodes; on an error it stops those started.
func startCluster(t testing.TB) (*Cluster, error) {
	const nodes = 3
	ports := freePorts(t, nodes)
	routes := make([]string, nodes)
	for i, p := range ports {
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", p)
	}
	name := fmt.Sprintf("jetflow-test-%d", ports[0])
	c := &Cluster{}
	for i := range nodes {
		s, err := natsserver.Start(natsserver.Config{
			StoreDir:   t.TempDir(),
			ServerName: fmt.Sprintf("n%d-%d", i+1, ports[0]),
			Cluster: natsserver.ClusterConfig{
				Name:   name,
				Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]),
				Routes: routes,
			},
		})
		if err != nil {
			for _, started := range c.Servers {
				natsserver.Stop(started)
			}
			return nil, fmt.Errorf("start cluster node %d: %w", i+1, err)
		}
		c.Servers = append(c.Servers, s)
		if c.URL != "" {
			c.URL += ","
		}
		c.URL += s.ClientURL()
	}
	for _, s := range c.Servers {
		t.Cleanup(func() { natsserver.Stop(s) })
	}
	return c, nil
}

// WaitClusterReady waits until one server leads the meta group with every
// server as a peer and all servers are current.
func WaitClusterReady(ctx context.Context, servers []*server.Server) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if clusterReady(servers) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster of %d not ready: %w", len(servers), ctx.Err())
		case <-tick.C:
		}
	}
}

func clusterReady(servers []*server.Server) bool {
	leader := false
	for _, s := range servers {
		if !s.JetStreamIsCurrent() {
			return false
		}
		if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(servers) {
			leader = true
		}
	}
	return leader
}

// Connect opens a client connection to the cluster, closed by t.Cleanup.
func (c *Cluster) Connect(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	return Connect(t, c.URL, opts...)
}

// SkipIfShort skips a slow test (a cluster test) under `go test -short`.
// CI runs without -short, so these tests still run there.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("slow cluster test: skipped with -short")
	}
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: free port: %v", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
