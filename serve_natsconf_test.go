package jetflow_test

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/wire"
)

// TestServeWithNATSConf runs `jetflow serve --nats-config nats.conf` with the
// repository's nats.conf (users and permissions on) and sends a command as
// the command-client user. Not parallel: it sets the passwords nats.conf
// reads from the environment.
func TestServeWithNATSConf(t *testing.T) {
	t.Setenv("JETFLOW_NATS_PASSWORD", "service-test-pw")
	t.Setenv("NATS_WORKER_PASSWORD", "worker-test-pw")
	t.Setenv("NATS_ADMIN_PASSWORD", "admin-test-pw")
	t.Setenv("NATS_CLIENT_PASSWORD", "client-test-pw")
	t.Setenv("NATS_SYS_PASSWORD", "sys-test-pw")
	t.Setenv("JETFLOW_CONFIG", "")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	app := jetflow.New()
	users.Register(app)
	root := app.Command()
	root.SetArgs([]string{"serve",
		"--nats-config", "nats.conf", "--listen", addr, "--store-dir", t.TempDir(),
		"--nats-user", "jetflow", "--metrics-listen", "", "--log-level", "error"})
	ctx, cancel := context.WithCancel(context.Background())
	var serveErr error
	done := make(chan struct{})
	go func() { defer close(done); serveErr = root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if serveErr != nil {
			t.Errorf("serve: %v", serveErr)
		}
	})

	url := "nats://" + addr
	var nc *nats.Conn
	deadline := time.Now().Add(15 * time.Second)
	for {
		nc, err = nats.Connect(url, nats.UserInfo("client", "client-test-pw"))
		if err == nil {
			break
		}
		select {
		case <-done:
			t.Fatalf("serve exited early: %v", serveErr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect as client to %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(nc.Close)

	// The command service registers after the server accepts connections.
	for {
		resp, err := nc.Request("cmd.user.create", []byte(`{"username":"alice","email":"alice@example.com"}`), 2*time.Second)
		if err == nil {
			if e := wire.ParseErrorReply(resp); e != nil {
				t.Fatalf("cmd.user.create: %v", e)
			}
			var r wire.CommandReply
			if err := json.Unmarshal(resp.Data, &r); err != nil || r.Version != 1 {
				t.Fatalf("cmd.user.create reply %q: %v", resp.Data, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cmd.user.create: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
