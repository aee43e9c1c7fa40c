package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/netproxy"
)

// ErrNotReady is returned when the cluster does not form or re-form in time.
var ErrNotReady = errors.New("chaos: cluster not ready")

// unreachableRoute is what every node advertises as its route address. A
// node learns other nodes' route addresses by gossip and connects to
// those it has no route to yet; pointing them all at a port nobody may
// listen on (below 1024, refused at once) keeps every route on the
// configured one, through the harness's proxies, so that a cut of the
// proxies is a real partition.
const unreachableRoute = "127.0.0.1:1"

// node is one nats-server of the cluster, run in this process so that it
// can be stopped and started again on the same store, name and ports.
type node struct {
	name string
	// opts are the options it started with, ports fixed after the first
	// start; each restart clones them.
	opts *server.Options
	srv  *server.Server // nil while down
	// client is the proxy its clients go through.
	client *netproxy.Proxy
	// routes[j] is the proxy of its route to node j (nil for itself).
	routes []*netproxy.Proxy
}

// Cluster is a 3-node JetStream cluster whose every link, between nodes
// and to their clients, runs through a proxy the harness owns.
type Cluster struct {
	nodes []*node
	log   *slog.Logger
	sync  natsserver.Sync

	mu sync.Mutex // serialises stops, starts and partitions
}

// ClusterSize is the number of nodes: R3 streams with one node lost keep a
// quorum.
const ClusterSize = 3

// StartCluster starts the nodes with their stores under dir and waits until
// they form a cluster. Close stops them.
func StartCluster(ctx context.Context, dir string, sync natsserver.Sync, log *slog.Logger) (*Cluster, error) {
	c := &Cluster{log: log, sync: sync}
	var err error
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	for i := range ClusterSize {
		n := &node{name: "n" + strconv.Itoa(i+1), routes: make([]*netproxy.Proxy, ClusterSize)}
		if n.client, err = netproxy.NewProxy(); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	for i, n := range c.nodes {
		for j := range c.nodes {
			if i != j {
				if n.routes[j], err = netproxy.NewProxy(); err != nil {
					return nil, err
				}
			}
		}
	}
	name := "chaos-" + strconv.Itoa(portOf(c.nodes[0].client.Addr()))
	for i, n := range c.nodes {
		var routes []string
		for j, p := range n.routes {
			if j != i {
				routes = append(routes, "nats-route://"+p.Addr())
			}
		}
		n.opts, err = natsserver.Options(natsserver.Config{
			Listen:     "127.0.0.1:0",
			StoreDir:   filepath.Join(dir, n.name),
			ServerName: n.name,
			Cluster:    natsserver.ClusterConfig{Name: name, Listen: "127.0.0.1:0", Routes: routes},
			Sync:       sync,
		})
		if err != nil {
			return nil, err
		}
		n.opts.Cluster.Advertise = unreachableRoute
		// Clients see only the proxy they were given: a server that
		// advertised the others' real addresses would let them reconnect
		// around the proxies.
		n.opts.Cluster.NoAdvertise = true
		if err = c.start(i); err != nil {
			return nil, err
		}
	}
	if err = c.WaitReady(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// start starts node i and points the proxies in front of it at its ports,
// which it keeps from then on.
func (c *Cluster) start(i int) error {
	n := c.nodes[i]
	opts := n.opts.Clone()
	srv, err := natsserver.StartWithOptions(opts, c.log.With("node", n.name), 20*time.Second)
	if err != nil {
		return fmt.Errorf("chaos: start node %s: %w", n.name, err)
	}
	n.srv = srv
	clientAddr := srv.Addr().(*net.TCPAddr)
	routeAddr := srv.ClusterAddr()
	if routeAddr == nil {
		natsserver.Stop(srv)
		return fmt.Errorf("chaos: node %s has no route listener", n.name)
	}
	n.opts.Port = clientAddr.Port
	n.opts.Cluster.Port = routeAddr.Port
	n.client.SetTarget(clientAddr.String())
	for j, other := range c.nodes {
		if j != i && other.routes[i] != nil {
			other.routes[i].SetTarget(routeAddr.String())
		}
	}
	return nil
}

// ClientURLs are the nodes' client addresses through their proxies, as a
// nats.Connect list.
func (c *Cluster) ClientURLs() []string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = "nats://" + n.client.Addr()
	}
	return urls
}

// URL lists the proxied client addresses starting at node first, so that
// a client given it with nats.DontRandomize connects there first.
func (c *Cluster) URL(first int) string {
	urls := c.ClientURLs()
	first %= len(urls)
	return strings.Join(append(urls[first:], urls[:first]...), ",")
}

// adminURL lists the nodes' own client addresses, around the proxies: the
// harness's reads of leaders and state are not subject to partitions.
func (c *Cluster) adminURL() string {
	urls := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		urls[i] = "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.opts.Port))
	}
	return strings.Join(urls, ",")
}

// ConnectAdmin connects to the nodes directly (not through the proxies).
func (c *Cluster) ConnectAdmin() (*nats.Conn, error) {
	return nats.Connect(c.adminURL(), nats.Name("jetflow-chaos-admin"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.Timeout(2*time.Second))
}

// NodeIndex returns the index of the node called name.
func (c *Cluster) NodeIndex(name string) (int, bool) {
	for i, n := range c.nodes {
		if n.name == name {
			return i, true
		}
	}
	return -1, false
}

// Name is node i's server name.
func (c *Cluster) Name(i int) string { return c.nodes[i].name }

// Stop shuts node i down. In-process servers shut down cleanly; a crash
// of a whole process is what the crash fault does to serve.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.nodes[i].srv; s != nil {
		natsserver.Stop(s)
		c.nodes[i].srv = nil
	}
}

// Restart starts node i again on its store dir and ports, if it is down.
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes[i].srv != nil {
		return nil
	}
	return c.start(i)
}

// Partition cuts node i off from the other nodes and from its clients.
func (c *Cluster) Partition(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nodes[i].client.Cut()
	for j, n := range c.nodes {
		if j == i {
			for _, p := range n.routes {
				if p != nil {
					p.Cut()
				}
			}
			continue
		}
		n.routes[i].Cut()
	}
}

// Heal ends every partition.
func (c *Cluster) Heal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		n.client.Heal()
		for _, p := range n.routes {
			if p != nil {
				p.Heal()
			}
		}
	}
}

// RestartAll starts every node that is down.
func (c *Cluster) RestartAll() error {
	var errs []error
	for i := range c.nodes {
		errs = append(errs, c.Restart(i))
	}
	return errors.Join(errs...)
}

// WaitReady waits until every node runs, one leads the meta group with all
// as peers, and every node is current.
func (c *Cluster) WaitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.ready() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotReady, ctx.Err())
		case <-tick.C:
		}
	}
}

func (c *Cluster) ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	leader := false
	for _, n := range c.nodes {
		if n.srv == nil || !n.srv.JetStreamIsCurrent() {
			return false
		}
		if n.srv.JetStreamIsLeader() && len(n.srv.JetStreamClusterPeers()) == len(c.nodes) {
			leader = true
		}
	}
	return leader
}

// Close stops every node and proxy.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.srv != nil {
			natsserver.Stop(n.srv)
			n.srv = nil
		}
	}
	for _, n := range c.nodes {
		_ = n.client.Close()
		for _, p := range n.routes {
			if p != nil {
				_ = p.Close()
			}
		}
	}
}
