package app

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/streams"
)

// TestConfigCheck: `config check file --set k=v` prints a document that
// loads back to the effective configuration, and fails on a bad file.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tsk")
	bad := filepath.Join(dir, "bad.tsk")
	if err := os.WriteFile(good, []byte("[events]\nreplicas: 2\n[topics.orders]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("[events]\nreplica: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) (string, error) {
		cmd := NewRootCmd(nil)
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append([]string{"config"}, args...))
		err := cmd.Execute()
		return out.String(), err
	}

	out, err := run("check", good, "--set", "events.replicas=3", "--set", "nats.password=s3cret", "--set", "nats.user=u")
	if err != nil {
		t.Fatalf("config check: %v", err)
	}
	got, err := config.Decode("stdout", []byte(out), nil)
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, out)
	}
	want, _ := config.Load(good, nil)
	_ = want.Set("events.replicas", "3")
	_ = want.Set("nats.user", "u")
	_ = want.Set("nats.password", "<redacted>")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("printed configuration:\n got %+v\nwant %+v", got, want)
	}

	if _, err := run("check", bad); err == nil || !strings.Contains(err.Error(), `bad.tsk:2:1: unknown key "replica" in [events]; did you mean "replicas"?`) {
		t.Errorf("config check of a bad file: %v", err)
	}
	if _, err := run("check", good, "--set", "events.replicas=9"); err == nil || !strings.Contains(err.Error(), "events.replicas: 9: must be 1 to 5") {
		t.Errorf("config check of an invalid value: %v", err)
	}
	if _, err := run("check", good, "--set", "events.replicas"); err == nil {
		t.Error("config check accepted --set without =")
	}
}

// Every [events] and [snapshots] key reaches the event store's config.
func TestStreamsConfigCarriesEveryEventsKey(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	for k, v := range map[string]string{
		"events.stream": "EV2", "events.subject_prefix": "acme.ev", "events.replicas": "3", "events.max_events_per_append": "10",
		"events.max_concurrent_batches": "16", "events.duplicate_window": "5m", "snapshots.bucket": "snaps2",
	} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	got := streamsConfig(cfg)
	want := streams.Config{EventStream: "EV2", SubjectPrefix: "acme.ev", Replicas: 3, MaxEventsPerAppend: 10,
		MaxConcurrentBatches: 16, DuplicateWindow: 5 * time.Minute, SnapshotBucket: "snaps2"}
	if got != want {
		t.Fatalf("streamsConfig = %+v, want %+v", got, want)
	}
}
