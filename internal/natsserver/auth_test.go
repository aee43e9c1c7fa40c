package natsserver_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/natsserver"
)

func writeConf(t *testing.T, conf string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The default server has no users: it may listen on loopback only, unless
// the operator says, loudly, that anonymous clients on the network are
// wanted. ":4222" is every interface, as is 0.0.0.0.
func TestAnonymousServerStaysOnLoopback(t *testing.T) {
	t.Parallel()
	users := writeConf(t, "authorization { users = [{user: a, password: secret-pw}] }\n")
	noAuthUser := writeConf(t, "accounts { A { users = [{user: a, password: secret-pw}] } }\nno_auth_user: a\n")
	for _, tc := range []struct {
		name    string
		cfg     natsserver.Config
		refused bool
	}{
		{"default", natsserver.Config{}, false},
		{"127.0.0.1", natsserver.Config{Listen: "127.0.0.1:0"}, false},
		{"::1", natsserver.Config{Listen: "[::1]:0"}, false},
		{"localhost", natsserver.Config{Listen: "localhost:0"}, false},
		{"all interfaces", natsserver.Config{Listen: "0.0.0.0:4222"}, true},
		{"empty host", natsserver.Config{Listen: ":4222"}, true},
		{"IPv6 any", natsserver.Config{Listen: "[::]:4222"}, true},
		{"an address", natsserver.Config{Listen: "10.1.2.3:4222"}, true},
		{"a host name", natsserver.Config{Listen: "nats.internal:4222"}, true},
		{"opted out", natsserver.Config{Listen: "0.0.0.0:4222", AllowAnonymous: true}, false},
		{"users", natsserver.Config{ConfigFile: users, Listen: "0.0.0.0:4222"}, false},
		// no_auth_user lets anyone in as that user: anonymous after all.
		{"no_auth_user", natsserver.Config{ConfigFile: noAuthUser, Listen: "0.0.0.0:4222"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.StoreDir = t.TempDir()
			_, err := natsserver.Options(tc.cfg)
			if refused := errors.Is(err, natsserver.ErrAnonymousNetwork); refused != tc.refused {
				t.Fatalf("refused %v (%v), want %v", refused, err, tc.refused)
			}
			if tc.refused && !strings.Contains(err.Error(), "insecure_allow_anonymous") {
				t.Fatalf("the refusal does not name the opt-out: %v", err)
			}
		})
	}
}

// A password variable that is set but empty gives a user anyone may log
// in as without a password: refused at start, naming the user.
func TestEmptyPasswordRefused(t *testing.T) {
	t.Parallel()
	for _, conf := range []string{
		"authorization { users = [{user: ok, password: pw}, {user: client, password: \"\"}] }\n",
		"accounts { A { users = [{user: client, password: \"\"}] } }\n",
		"authorization { user: client, password: \"\" }\n",
	} {
		_, err := natsserver.Options(natsserver.Config{ConfigFile: writeConf(t, conf), StoreDir: t.TempDir()})
		if !errors.Is(err, natsserver.ErrEmptyPassword) || !strings.Contains(err.Error(), `"client"`) {
			t.Fatalf("%s: %v, want ErrEmptyPassword naming the user", conf, err)
		}
	}
}

func TestAuthDescription(t *testing.T) {
	t.Parallel()
	opts, err := natsserver.Options(natsserver.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := natsserver.AuthDescription(opts); got != "none: anonymous clients" {
		t.Fatalf("no auth: %q", got)
	}
	conf := writeConf(t, "accounts { A { users = [{user: a, password: pw}, {user: b, password: pw}] } }\n")
	opts, err = natsserver.Options(natsserver.Config{ConfigFile: conf, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := natsserver.AuthDescription(opts); got != "users and passwords (2 users)" {
		t.Fatalf("users: %q", got)
	}
	// And the server really refuses anonymous clients.
	s, err := natsserver.StartWithOptions(opts, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { natsserver.Stop(s) })
	if nc, err := nats.Connect(s.ClientURL(), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("anonymous connection accepted")
	}
}
