package deploy_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// TestClusterRecipe starts the docker-compose cluster from its own node files
// (nats/n1.conf … n3.conf, moved to loopback), two jetflow nodes on it with
// R3 streams (`jetflow serve --nats-url … --replicas 3` twice), and sends
// commands as the client user; then it restarts the node leading EVENTS,
// as a rolling upgrade does, and checks commands keep working.
func TestClusterRecipe(t *testing.T) {
	natstest.SkipIfShort(t)
	t.Parallel()

	nodes := loopbackCluster(t, clusterConfig)
	pristine := make([]*server.Options, len(nodes))
	servers := make([]*server.Server, len(nodes))
	for i, opts := range nodes {
		pristine[i] = opts.Clone()
		servers[i] = startServer(t, opts)
	}
	waitCluster(t, servers)
	for _, s := range servers {
		checkHealthz(t, s)
	}
	url := clientURLs(servers)

	// Two platform processes, as docker-compose runs serve-1 and serve-2.
	a := startNode(t, url, 3)
	startNode(t, url, 3)

	for _, name := range []string{streams.DefaultEventStream, "KV_" + streams.DefaultSnapshotBucket} {
		info := streamInfo(t, a.JS, name)
		if info.Config.Replicas != 3 {
			t.Fatalf("%s: %d replicas, want 3", name, info.Config.Replicas)
		}
	}

	client, _ := connectAs(t, url, clientUser, clientPassword, nats.MaxReconnects(-1))
	operator, _ := connectAs(t, url, serviceUser, servicePassword, nats.CustomInboxPrefix(serviceInboxPrefix))
	if got := commandServices(t, operator); got != 2 {
		t.Fatalf("%d %s instances answer $SRV.PING, want 2", got, aggregates.DefaultServiceName)
	}
	const n = 20
	for i := range n {
		if _, err := createUser(client, fmt.Sprintf("user%02d", i)); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
	}
	if info := streamInfo(t, a.JS, streams.DefaultEventStream); info.State.Msgs != n {
		t.Fatalf("EVENTS holds %d events, want %d", info.State.Msgs, n)
	}

	// Rolling restart of the node leading EVENTS: commands go on on the other
	// two, and the node rejoins and catches up.
	leader := streamInfo(t, a.JS, streams.DefaultEventStream).Cluster.Leader
	idx := -1
	for i, s := range servers {
		if s.Name() == leader {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("EVENTS leader %q is none of the nodes", leader)
	}
	natsserver.Stop(servers[idx])
	for i := range n {
		createWithRetry(t, client, fmt.Sprintf("after%02d", i))
	}
	servers[idx] = startServer(t, pristine[idx])
	waitCluster(t, servers)
	waitReplicasCurrent(t, a.JS, streams.DefaultEventStream)
	createWithRetry(t, client, "rejoined")
	if info := streamInfo(t, a.JS, streams.DefaultEventStream); info.State.Msgs < 2*n+1 {
		t.Fatalf("EVENTS holds %d events, want at least %d", info.State.Msgs, 2*n+1)
	}
}

func waitCluster(t *testing.T, servers []*server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), natstest.ClusterReadyTimeout)
	defer cancel()
	if err := natstest.WaitClusterReady(ctx, servers); err != nil {
		t.Fatal(err)
	}
}

// checkHealthz calls the monitoring endpoint docker-compose's health check uses.
func checkHealthz(t *testing.T, s *server.Server) {
	t.Helper()
	addr := s.MonitorAddr()
	if addr == nil {
		t.Fatalf("%s: no monitoring listener", s.Name())
	}
	resp, err := http.Get("http://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatalf("%s /healthz: %v", s.Name(), err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s /healthz: %s", s.Name(), resp.Status)
	}
}

func streamInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	st, err := js.Stream(testContext(t), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := st.Info(testContext(t))
	if err != nil {
		t.Fatalf("stream %s info: %v", name, err)
	}
	return info
}

// waitReplicasCurrent waits until every replica of the stream has caught up.
func waitReplicasCurrent(t *testing.T, js jetstream.JetStream, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info := streamInfo(t, js, name)
		current := info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == 2
		for _, r := range info.Cluster.Replicas {
			current = current && r.Current && !r.Offline
		}
		if current {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: replicas not current: %+v", name, info.Cluster)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createWithRetry sends a command until it succeeds, as a client does while
// the cluster elects new leaders.
func createWithRetry(t *testing.T, nc *nats.Conn, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := createUserWithin(nc, name, 3*time.Second)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("create %s: %v", name, err)
		}
		t.Logf("create %s: %v; retrying", name, err)
		time.Sleep(200 * time.Millisecond)
	}
}

// commandServices counts the command service instances answering a ping.
func commandServices(t *testing.T, nc *nats.Conn) int {
	t.Helper()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest("$SRV.PING."+aggregates.DefaultServiceName, inbox, nil); err != nil {
		t.Fatal(err)
	}
	count := 0
	for {
		if _, err := sub.NextMsg(time.Second); err != nil {
			return count
		}
		count++
	}
}
