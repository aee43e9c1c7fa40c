package platform_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/streams"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestEmbeddedServerStartsProvisionsAndStopsLast(t *testing.T) {
	t.Parallel()
	p, err := platform.Start(ctx(t), platform.Config{
		Embedded: natsserver.Config{Listen: "127.0.0.1:0", StoreDir: t.TempDir()},
		Streams:  streams.DefaultConfig(),
		Name:     t.Name(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Server == nil {
		t.Fatal("no embedded server")
	}
	if _, err := p.JS.Stream(ctx(t), "EVENTS"); err != nil {
		t.Fatalf("EVENTS not provisioned: %v", err)
	}
	if _, err := p.Store.Append(ctx(t), "t", "1", streams.Position{}, streams.Event{Type: "t.x", Data: []byte(`{}`)}); err != nil {
		t.Fatalf("append: %v", err)
	}
	p.Close()
	if p.Server.Running() || !p.Conn.IsClosed() {
		t.Fatal("Close must close the connections and stop the embedded server")
	}
}

func TestExternalServerAndUnreachableOne(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	p, err := platform.Start(ctx(t), platform.Config{NATSURL: srv.URL, Streams: streams.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if !srv.Running() {
		t.Fatal("Close must not stop a server the platform did not start")
	}

	_, err = platform.Start(ctx(t), platform.Config{NATSURL: "nats://127.0.0.1:1", Streams: streams.DefaultConfig()})
	if !errors.Is(err, platform.ErrUnreachable) || !strings.Contains(err.Error(), "nats://127.0.0.1:1") {
		t.Fatalf("unreachable server: %v", err)
	}
}

func TestConflictingStreamIsReportedAtStart(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	cfg := streams.DefaultConfig()
	p, err := platform.Start(ctx(t), platform.Config{NATSURL: srv.URL, Streams: cfg})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	cfg.MemoryStorage = true
	_, err = platform.Start(ctx(t), platform.Config{NATSURL: srv.URL, Streams: cfg})
	if !errors.Is(err, streams.ErrStreamConflict) || !strings.Contains(err.Error(), "storage") {
		t.Fatalf("conflicting stream: %v", err)
	}
}
