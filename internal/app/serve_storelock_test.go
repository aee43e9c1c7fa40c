package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
)

// A second serve on the store dir of a running one is refused at start,
// naming the dir and the holder; the first keeps serving. (Two servers on
// one store handed out the same sequences, and a restart lost every event
// one of them had acknowledged.)
func TestSecondServeOnOneStoreDirIsRefused(t *testing.T) {
	t.Parallel()
	store := t.TempDir()
	serveCfg := func() config.Config {
		cfg := config.Default()
		cfg.Server.Listen = natstest.FreeAddr(t)
		cfg.Server.StoreDir = store
		cfg.Metrics.Listen = natstest.FreeAddr(t)
		cfg.Log.Level = "error"
		return cfg
	}
	first := serveCfg()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, first, nil, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("first serve: %v", err)
		}
	})
	natstest.WaitHTTP(t, "http://"+first.Metrics.Listen+"/readyz", func(code int, _ string) bool { return code == 200 })

	second := serveCfg()
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	err := Serve(sctx, second, nil, nil)
	if !errors.Is(err, natsserver.ErrStoreLocked) {
		t.Fatalf("second serve on %s: %v, want ErrStoreLocked", store, err)
	}
	if !strings.Contains(err.Error(), store) || !strings.Contains(err.Error(), first.Server.Listen) {
		t.Fatalf("error %q does not name the store dir and the first server", err)
	}
	natstest.WaitHTTP(t, "http://"+first.Metrics.Listen+"/readyz", func(code int, _ string) bool { return code == 200 })
}
