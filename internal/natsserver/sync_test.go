package natsserver_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natsserver"
)

func TestParseSync(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want natsserver.Sync
	}{
		{"", natsserver.Sync{}},
		{"always", natsserver.Sync{Always: true}},
		{"10s", natsserver.Sync{Interval: 10 * time.Second}},
	} {
		got, err := natsserver.ParseSync(tc.in)
		if err != nil || got != tc.want || got.String() != tc.in {
			t.Errorf("ParseSync(%q) = %+v (%q), %v; want %+v", tc.in, got, got.String(), err, tc.want)
		}
	}
	for _, bad := range []string{"sometimes", "0s", "-1s", "Always", "default"} {
		if _, err := natsserver.ParseSync(bad); !errors.Is(err, natsserver.ErrInvalidSync) {
			t.Errorf("ParseSync(%q): %v, want ErrInvalidSync", bad, err)
		}
	}
}

// A policy set in Config wins over the config file's; none keeps it.
func TestSyncOverridesTheConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte("listen: 127.0.0.1:-1\njetstream { store_dir: \""+dir+"\", sync_interval: \"30s\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sync     natsserver.Sync
		always   bool
		interval time.Duration
	}{
		{natsserver.Sync{}, false, 30 * time.Second},
		{natsserver.Sync{Always: true}, true, 30 * time.Second},
		{natsserver.Sync{Interval: time.Second}, false, time.Second},
	} {
		opts, err := natsserver.Options(natsserver.Config{ConfigFile: conf, Sync: tc.sync})
		if err != nil {
			t.Fatal(err)
		}
		if opts.SyncAlways != tc.always || opts.SyncInterval != tc.interval {
			t.Errorf("sync %+v: always %v interval %s, want %v %s", tc.sync, opts.SyncAlways, opts.SyncInterval, tc.always, tc.interval)
		}
	}
}
