package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/config"
)

// What jetflow chaos refuses before it starts anything.
func TestChaosRefusesBeforeStarting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"chaos", "--fault", "leader,meteor"}, `--fault "meteor"`},
		{[]string{"chaos", "--every", "5s", "--every-max", "1s"}, "--every-max 1s is shorter than --every 5s"},
		{[]string{"chaos", "--sync-interval", "sometimes"}, "server.sync_interval"},
		{[]string{"chaos", "--config", "jetflow.tsk"}, "reads no configuration"},
		// NewRootCmd(nil) registers no domain: no users example to drive.
		{[]string{"chaos", "--duration", "1s"}, "users example"},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			t.Parallel()
			_, _, err := runRoot(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, _, err := runRoot(t, "chaos"); !errors.Is(err, errChaosDomain) {
		t.Fatalf("chaos in a binary without the users example: %v", err)
	}
}

func TestBenchSyncIntervalIsChecked(t *testing.T) {
	t.Parallel()
	_, _, err := runRoot(t, "bench", "--sync-interval", "default,sometimes", "--scenario", "append")
	if err == nil || !strings.Contains(err.Error(), `--sync-interval: invalid sync interval "sometimes"`) {
		t.Fatalf("bench --sync-interval sometimes: %v", err)
	}
}

// server.sync_interval (serve --sync-interval) is the embedded server's
// fsync policy: "always" fsyncs before every acknowledgement, a duration
// sets the period, and nothing keeps the server's default.
func TestSyncIntervalReachesTheEmbeddedServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value    string
		always   bool
		interval time.Duration
	}{
		{"always", true, 0},
		{"10s", false, 10 * time.Second},
		{"", false, 2 * time.Minute},
	} {
		t.Run("sync_interval="+tc.value, func(t *testing.T) {
			t.Parallel()
			d := &Domain{}
			cfg, err := d.LoadConfig("", []Setting{
				{Key: "server.listen", Value: "127.0.0.1:-1"}, {Key: "server.store_dir", Value: t.TempDir()},
				{Key: "server.sync_interval", Value: tc.value},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p, err := startPlatform(ctx, cfg, "sync-test", slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			js := p.Server.JetStreamConfig()
			if js.SyncAlways != tc.always || (!tc.always && js.SyncInterval != tc.interval) {
				t.Fatalf("server fsync: always %v, interval %s; want always %v, interval %s", js.SyncAlways, js.SyncInterval, tc.always, tc.interval)
			}
		})
	}
	if _, err := (&Domain{}).LoadConfig("", []Setting{{Key: "server.sync_interval", Value: "-1s"}}); !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("sync_interval -1s: %v", err)
	}
}
