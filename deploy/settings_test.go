package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetflow/jetflow/internal/natsserver"
)

// TestNATSConfSettings checks the settings nats.conf promises in its comments.
func TestNATSConfSettings(t *testing.T) {
	t.Parallel()
	opts := loadNATSConf(t)
	if opts.MaxPayload != natsserver.DefaultMaxPayload {
		t.Errorf("max_payload = %d, want %d: the services answer oversized bodies with 413 only if they arrive",
			opts.MaxPayload, natsserver.DefaultMaxPayload)
	}
	if !opts.JetStream || opts.JetStreamMaxStore <= 0 || opts.JetStreamMaxMemory <= 0 {
		t.Errorf("jetstream = %v, max_file_store %d, max_memory_store %d: want JetStream on with limits",
			opts.JetStream, opts.JetStreamMaxStore, opts.JetStreamMaxMemory)
	}
	if opts.SyncAlways {
		t.Error("sync_interval: always is on; nats.conf documents it as an opt-in")
	}
	if opts.LameDuckDuration <= 0 {
		t.Error("no lame_duck_duration: rolling restarts would drop every client at once")
	}
	if opts.SystemAccount != "SYS" {
		t.Errorf("system_account = %q, want SYS", opts.SystemAccount)
	}
}

// TestSyncAlwaysOption uncomments the documented `# sync_interval: always`
// line of each configuration and checks that the server reads it.
func TestSyncAlwaysOption(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		root   string   // directory the files are relative to
		files  []string // copied with their layout; the first is loaded
		target string   // the file holding the commented line
	}{
		{"nats.conf", "..", []string{"nats.conf", "deploy/nats/accounts.conf"}, "nats.conf"},
		{"cluster", "nats", []string{"n1.conf", "cluster.conf", "accounts.conf"}, "cluster.conf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range tc.files {
				data, err := os.ReadFile(filepath.Join(tc.root, f))
				if err != nil {
					t.Fatal(err)
				}
				if f == tc.target {
					const line = "# sync_interval: always"
					if !strings.Contains(string(data), line) {
						t.Fatalf("%s does not offer %q", f, line)
					}
					data = []byte(strings.Replace(string(data), line, "sync_interval: always", 1))
				}
				dst := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			opts, err := server.ProcessConfigFile(filepath.Join(dir, tc.files[0]))
			if err != nil {
				t.Fatalf("load with sync_interval: always: %v", err)
			}
			if !opts.SyncAlways {
				t.Fatal("sync_interval: always did not set SyncAlways")
			}
		})
	}
}
