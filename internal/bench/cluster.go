package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetflow/jetflow/internal/natsserver"
)

// ErrNotReplicated: a scenario asked for on a cluster that measures a
// single server only.
var ErrNotReplicated = errors.New("bench: scenario does not run on a cluster")

// clusterNodes is the size of the cluster --replicas 3 runs on.
const clusterNodes = 3

// startCluster starts a 3-node JetStream cluster on loopback, each node
// storing in its own directory under dir, and waits until it has a meta
// leader with every node current. stop stops every node.
func startCluster(ctx context.Context, dir string, sync natsserver.Sync) (nodes []*server.Server, stop func(), err error) {
	ports := make([]int, clusterNodes)
	routes := make([]string, clusterNodes)
	for i := range ports {
		// A free port, released for the node: another process may take it
		// in between, and the node then fails to start (run again).
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i])
	}
	stop = func() {
		for _, s := range nodes {
			natsserver.Stop(s)
		}
	}
	name := fmt.Sprintf("jetflow-bench-%d", ports[0])
	for i := range clusterNodes {
		s, err := natsserver.Start(natsserver.Config{
			StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), ServerName: fmt.Sprintf("%s-n%d", name, i+1), Sync: sync,
			Cluster: natsserver.ClusterConfig{Name: name, Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes},
		})
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("bench: cluster node %d: %w", i+1, err)
		}
		nodes = append(nodes, s)
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for !clusterReady(nodes) {
		select {
		case <-wait.Done():
			stop()
			return nil, nil, fmt.Errorf("bench: cluster not ready: %w", wait.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nodes, stop, nil
}

func clusterReady(nodes []*server.Server) bool {
	leader := false
	for _, s := range nodes {
		if !s.JetStreamIsCurrent() {
			return false
		}
		leader = leader || (s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(nodes))
	}
	return leader
}

// runOnCluster runs sc on a fresh 3-node cluster: Env.Server is the first
// node, Env.URL lists every node.
func runOnCluster(ctx context.Context, sc Scenario, opts Options, sync natsserver.Sync) (Result, error) {
	if !sc.Replicated {
		return Result{}, fmt.Errorf("%w: %s", ErrNotReplicated, sc.Name)
	}
	dir, err := os.MkdirTemp("", "jetflow-bench-r3-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	nodes, stop, err := startCluster(ctx, dir, sync)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	urls := make([]string, len(nodes))
	for i, s := range nodes {
		urls[i] = s.ClientURL()
	}
	return sc.Run(ctx, &Env{Options: opts, Server: nodes[0], URL: strings.Join(urls, ","), Sync: sync})
}
