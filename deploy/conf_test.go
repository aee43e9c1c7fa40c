package deploy_test

import (
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetflow/jetflow/internal/natsserver"
)

// Paths of the recipe's files, relative to this package's directory.
var (
	natsConfPath  = filepath.Join("..", "nats.conf")
	clusterConfig = []string{
		filepath.Join("nats", "n1.conf"),
		filepath.Join("nats", "n2.conf"),
		filepath.Join("nats", "n3.conf"),
	}
)

// Users defined by nats/accounts.conf.
const (
	serviceUser = "jetflow" // jetflow serve
	workerUser  = "worker"  // jetflow worker
	adminUser   = "admin"   // operators
	clientUser  = "client"  // applications, in their own account
	sysUser     = "sys"
	// serviceInboxPrefix is the private inbox of jetflow's services
	// (cmd/jetflow/natsauth.go); only the service user may subscribe to it.
	serviceInboxPrefix = "_JETFLOW_INBOX"
)

// loadNATSConf loads the repository's nats.conf through natsserver, the way
// `jetflow serve --nats-config nats.conf` does, with the client port
// random and the store in a temp dir.
func loadNATSConf(t *testing.T) *server.Options {
	t.Helper()
	opts, err := natsserver.Options(natsserver.Config{
		ConfigFile: natsConfPath,
		Listen:     "127.0.0.1:0",
		StoreDir:   t.TempDir(),
	})
	if err != nil {
		t.Fatalf("load %s: %v", natsConfPath, err)
	}
	return opts
}

// startServer starts an embedded server from opts, stopped by t.Cleanup.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	s, err := natsserver.StartWithOptions(opts, nil, 0)
	if err != nil {
		t.Fatalf("start %s: %v", opts.ServerName, err)
	}
	t.Cleanup(func() { natsserver.Stop(s) })
	return s
}

// loopbackCluster loads the cluster's node files and rewrites what only makes
// sense inside docker-compose: every listener moves to loopback (client and
// monitoring ports random, route ports free ones picked here), every store
// to a temp dir, and every route to the loopback port of the node its host
// names. A route to a host that is not a node's server_name fails the test,
// so the files' routes are checked, not replaced.
func loopbackCluster(t *testing.T, files []string) []*server.Options {
	t.Helper()
	nodes := make([]*server.Options, len(files))
	for i, f := range files {
		opts, err := server.ProcessConfigFile(f)
		if err != nil {
			t.Fatalf("load %s: %v", f, err)
		}
		nodes[i] = opts
	}
	ports := freePorts(t, len(nodes))
	routePort := map[string]int{} // server_name (the compose host name) → loopback route port
	for i, opts := range nodes {
		if opts.ServerName == "" {
			t.Fatalf("%s: no server_name", files[i])
		}
		if _, dup := routePort[opts.ServerName]; dup {
			t.Fatalf("%s: server_name %q used twice", files[i], opts.ServerName)
		}
		routePort[opts.ServerName] = ports[i]
	}
	for i, opts := range nodes {
		if len(opts.Routes) != len(nodes) {
			t.Fatalf("%s: %d routes, want one per node (%d)", files[i], len(opts.Routes), len(nodes))
		}
		routes := make([]*url.URL, len(opts.Routes))
		for j, r := range opts.Routes {
			if r.Port() != strconv.Itoa(opts.Cluster.Port) {
				t.Fatalf("%s: route %s: port is not the cluster port %d", files[i], r, opts.Cluster.Port)
			}
			p, ok := routePort[r.Hostname()]
			if !ok {
				t.Fatalf("%s: route %s: host %q is not a node's server_name", files[i], r, r.Hostname())
			}
			routes[j] = &url.URL{Scheme: r.Scheme, Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))}
		}
		opts.Routes = routes
		opts.Host, opts.Port = "127.0.0.1", -1
		opts.HTTPHost, opts.HTTPPort = "127.0.0.1", -1
		opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", ports[i]
		opts.StoreDir = t.TempDir()
	}
	return nodes
}

// freePorts reserves n loopback ports and releases them for the caller.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		defer func() { _ = l.Close() }()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// clientURLs joins the servers' client addresses as nats.Connect takes them.
func clientURLs(servers []*server.Server) string {
	u := ""
	for i, s := range servers {
		if i > 0 {
			u += ","
		}
		u += s.ClientURL()
	}
	return u
}
