package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/natsserver"
)

// dockerfile is what the test reads of the Dockerfile's final stage.
type dockerfile struct {
	copies [][2]string // build-context files copied in: source, destination
	cmd    []string
}

// readDockerfile parses the final stage's COPY lines (those from the build
// context) and its CMD, the exec form jetflow's image uses.
func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d dockerfile
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch fields[0] {
		case "FROM":
			d = dockerfile{} // only the last stage is the image
		case "COPY":
			if len(fields) == 3 { // COPY src dst, not COPY --from=build
				d.copies = append(d.copies, [2]string{fields[1], fields[2]})
			}
		case "CMD":
			if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(sc.Text(), "CMD"))), &d.cmd); err != nil {
				t.Fatalf("CMD is not the exec form: %v", err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

// The image's default command serves with the nats.conf it ships (users
// and permissions on) and passes no password on its command line; its
// embedded server, reachable from outside the container, refuses an
// anonymous client and lets the client user in. The test lays the
// image's /etc/jetflow out in a temp dir and runs the very arguments,
// moved to loopback.
func TestImageRefusesAnonymousClients(t *testing.T) {
	t.Parallel()
	d := readDockerfile(t)
	root := t.TempDir()
	for _, c := range d.copies {
		data, err := os.ReadFile(filepath.Join("..", c[0]))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(root, c[1])
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if len(d.cmd) == 0 || d.cmd[0] != "serve" {
		t.Fatalf("CMD %q does not serve", d.cmd)
	}
	addr := freeAddr(t)
	args := []string{}
	listen := ""
	for i, a := range d.cmd {
		switch {
		case strings.Contains(a, "password") || a == "--insecure-allow-anonymous":
			t.Fatalf("CMD has %s: passwords go in the environment, and the image never serves anonymous clients", a)
		case i > 0 && d.cmd[i-1] == "--listen":
			listen, a = a, addr
		case i > 0 && d.cmd[i-1] == "--metrics-listen":
			a = "127.0.0.1:0"
		case strings.HasPrefix(a, "/"):
			a = filepath.Join(root, a)
		}
		args = append(args, a)
	}
	conf := flagValue(args, "--nats-config")
	if conf == "" {
		t.Fatalf("CMD %q serves without --nats-config", d.cmd)
	}
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("--nats-config is not a file the image copies: %v", err)
	}
	// The address the image really listens on passes serve's check only
	// because the configuration has users.
	if _, err := natsserver.Options(natsserver.Config{ConfigFile: conf, Listen: listen, StoreDir: t.TempDir()}); err != nil {
		t.Fatalf("serve would refuse the image's own command: %v", err)
	}

	app := jetflow.New()
	users.Register(app)
	cmd := app.Command()
	cmd.SetArgs(append(args, "--log-level", "error"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	url := "nats://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		nc, err := nats.Connect(url, nats.UserInfo(clientUser, clientPassword))
		if err == nil {
			nc.Close()
			break
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect as client: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	nc, err := nats.Connect(url, nats.NoReconnect())
	if err == nil {
		nc.Close()
		t.Fatal("the image's server accepted an anonymous client")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous client: %v, want an authorization violation", err)
	}
	// And the platform serves the client user (once it has started).
	client, _ := connectAs(t, url, clientUser, clientPassword)
	createWithRetry(t, client, "imaged")
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(freePorts(t, 1)[0])
}

// compose variables: ${NAME}, ${NAME:-default}, ${NAME:?message}.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}`)

// docker-compose.yml has no default password: every variable is
// ${NAME:?message}, which refuses to start when NAME is unset or empty,
// and the nodes get every password accounts.conf reads.
func TestComposeRequiresEveryPassword(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	given := map[string]bool{} // variables set in the nodes' environment
	inNodes := false
	for n, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if line != "" && line[0] != ' ' {
			inNodes = strings.HasPrefix(line, "x-nats-node:")
		}
		for _, m := range composeVar.FindAllStringSubmatch(line, -1) {
			if !strings.HasPrefix(m[2], ":?") || len(m[2]) < 3 {
				t.Errorf("docker-compose.yml:%d: ${%s%s}: want ${%s:?message}, which refuses an unset or empty value", n+1, m[1], m[2], m[1])
			}
			if inNodes {
				given[strings.TrimSpace(strings.SplitN(strings.TrimSpace(line), ":", 2)[0])] = true
			}
		}
	}
	for _, name := range accountsConfVariables(t) {
		if !given[name] {
			t.Errorf("the nodes' environment does not pass %s, which accounts.conf reads", name)
		}
	}
}

// accountsConfVariables lists the $NAMEs accounts.conf reads from the
// environment: those it does not define itself.
func accountsConfVariables(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("nats", "accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+)\s*=`).FindAllStringSubmatch(string(data), -1) {
		defined[m[1]] = true
	}
	var names []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		// A $NAME value, not a subject in quotes such as "$JS.API.>".
		for _, m := range regexp.MustCompile(`(?:^|[\s=,\[])\$([A-Z_]+)(?:$|[\s,\]}])`).FindAllStringSubmatch(line, -1) {
			if !defined[m[1]] && !seen[m[1]] {
				seen[m[1]] = true
				names = append(names, m[1])
			}
		}
	}
	if len(names) < 5 {
		t.Fatalf("accounts.conf reads %v from the environment: want the five passwords", names)
	}
	return names
}

// The compose cluster's nodes load n1.conf … n3.conf: each, started on its
// own (routes off, loopback), refuses an anonymous client.
func TestComposeNodesRefuseAnonymousClients(t *testing.T) {
	t.Parallel()
	for _, file := range clusterConfig {
		opts, err := server.ProcessConfigFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if natsserver.Anonymous(opts) {
			t.Fatalf("%s: anonymous clients get in (%s)", file, natsserver.AuthDescription(opts))
		}
		opts.Cluster, opts.Routes = server.ClusterOpts{}, nil
		opts.Host, opts.Port, opts.HTTPHost, opts.HTTPPort = "127.0.0.1", -1, "127.0.0.1", -1
		opts.StoreDir = t.TempDir()
		s := startServer(t, opts)
		nc, err := nats.Connect(s.ClientURL(), nats.NoReconnect())
		if err == nil {
			nc.Close()
			t.Fatalf("%s: an anonymous client got in", file)
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Fatalf("%s: anonymous client: %v", file, err)
		}
	}
}
