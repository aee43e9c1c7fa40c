package streams_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

func TestProvisionIsIdempotentAndNamesConflicts(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	_, js := srv.JetStream(t)
	ctx := ctxT(t)
	cfg := streams.DefaultConfig()
	for range 2 {
		if err := streams.Provision(ctx, js, cfg); err != nil {
			t.Fatalf("provision: %v", err)
		}
	}
	st, err := js.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	c := st.CachedInfo().Config
	if !c.DenyDelete || !c.DenyPurge || !c.AllowDirect || !c.AllowAtomicPublish || c.Duplicates != 2*time.Minute || c.Storage != jetstream.FileStorage {
		t.Fatalf("EVENTS config = %+v", c)
	}
	if _, err := js.KeyValue(ctx, "jetflow_snapshots"); err != nil {
		t.Fatalf("snapshot bucket: %v", err)
	}

	// A compatible change is applied in place.
	cfg.DuplicateWindow = 5 * time.Minute
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatalf("compatible change: %v", err)
	}
	info, _ := st.Info(ctx)
	if info.Config.Duplicates != 5*time.Minute {
		t.Fatalf("duplicates window = %s", info.Config.Duplicates)
	}

	// Conflicts name the setting.
	other := cfg
	other.SubjectPrefix = "evts"
	err = streams.Provision(ctx, js, other)
	var ce *streams.StreamConflictError
	if !errors.As(err, &ce) || ce.Setting != "subjects" || !errors.Is(err, streams.ErrStreamConflict) {
		t.Fatalf("different subjects: err = %v", err)
	}
	mem := cfg
	mem.MemoryStorage = true
	if err := streams.Provision(ctx, js, mem); !errors.As(err, &ce) || ce.Setting != "storage" {
		t.Fatalf("different storage: err = %v", err)
	}
}

func TestConfigValidateJoinsProblems(t *testing.T) {
	t.Parallel()
	cfg := streams.Config{EventStream: "a.b", SubjectPrefix: "x..y", Replicas: 9, MaxEventsPerAppend: 5000, MaxConcurrentBatches: -1}
	err := cfg.Validate()
	for _, want := range []string{"event stream", "subject prefix", "replicas 9", "max events per append 5000", "max concurrent batches -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, missing %q", err, want)
		}
	}
}

// Instances starting together all provision the same R3 streams at once.
func TestConcurrentProvisionOnACluster(t *testing.T) {
	natstest.SkipIfShort(t)
	t.Parallel()
	c := natstest.RunCluster(t)
	cfg := streams.DefaultConfig()
	cfg.Replicas = 3
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			nc := c.Connect(t)
			js, err := jetstream.New(nc)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err = streams.Provision(ctx, js, cfg)
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent provision: %v", err)
		}
	}
}
