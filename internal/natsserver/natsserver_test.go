package natsserver_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetflow/jetflow/internal/natsserver"
)

func TestOptionsFromFlagsAndFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts, err := natsserver.Options(natsserver.Config{Listen: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Host != "127.0.0.1" || opts.Port != -1 || !opts.JetStream || opts.StoreDir != dir || opts.MaxPayload != natsserver.DefaultMaxPayload {
		t.Fatalf("options %+v", opts)
	}
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("host: 127.0.0.1\nport: 4333\nmax_payload: 2MB\njetstream { store_dir: \"/elsewhere\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err = natsserver.Options(natsserver.Config{ConfigFile: conf, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Port != 4333 || opts.MaxPayload != 2<<20 || opts.StoreDir != dir {
		t.Fatalf("file options with store dir override: port %d payload %d store %s", opts.Port, opts.MaxPayload, opts.StoreDir)
	}
}

func TestBadSettingsAreNamed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  natsserver.Config
		want string
	}{
		{natsserver.Config{Listen: "no-port", StoreDir: t.TempDir()}, `listen address "no-port"`},
		{natsserver.Config{Listen: "127.0.0.1:99999", StoreDir: t.TempDir()}, "0 to 65535"},
		{natsserver.Config{}, "store dir is required"},
		{natsserver.Config{ConfigFile: "/does/not/exist.conf"}, "/does/not/exist.conf"},
	} {
		if _, err := natsserver.Options(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want one naming %q", c.cfg, err, c.want)
		}
	}
}

func TestStartAndStop(t *testing.T) {
	t.Parallel()
	s, err := natsserver.Start(natsserver.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !s.JetStreamEnabled() {
		t.Fatal("JetStream is off")
	}
	natsserver.Stop(s)
	if s.Running() {
		t.Fatal("still running after Stop")
	}
}
