package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/lifecycle"
)

// gatedComponent's Start and Stop wait until the test lets them go: a
// process manager or worker that takes its time to start, or to drain.
type gatedComponent struct {
	lifecycle.Ending
	started, stopping chan struct{} // closed when Start / Stop is entered
	letStart, letStop chan struct{}
}

func (g *gatedComponent) Start(context.Context) error {
	close(g.started)
	<-g.letStart
	return nil
}

func (g *gatedComponent) Stop(context.Context) error {
	close(g.stopping)
	<-g.letStop
	g.Stopped()
	return nil
}

// /readyz answers 503 naming "started" until every part has started, 200
// while all run, and 503 again as soon as shutdown begins, while parts
// still drain: a load balancer sends nothing to a half-started or
// stopping instance.
func TestReadyOnlyWhileEveryPartRuns(t *testing.T) {
	t.Parallel()
	gate := &gatedComponent{started: make(chan struct{}), stopping: make(chan struct{}), letStart: make(chan struct{}), letStop: make(chan struct{})}
	d := &Domain{Components: []Component{{Name: "slow", Build: func(Runtime) (lifecycle.Component, error) { return gate, nil }}}}
	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:-1"
	cfg.Server.StoreDir = t.TempDir()
	cfg.Metrics.Listen = natstest.FreeAddr(t)
	cfg.Log.Level = "error"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, d, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-gate.letStart:
		default:
			close(gate.letStart)
		}
		select {
		case <-gate.letStop:
		default:
			close(gate.letStop)
		}
		<-done
	})
	readyz := "http://" + cfg.Metrics.Listen + "/readyz"

	waitClosed(t, gate.started, "the component's Start")
	code, body, err := natstest.HTTPGet(readyz)
	if err != nil || code != 503 || !strings.Contains(body, "started") {
		t.Fatalf("while a part starts: /readyz %d %s %v, want 503 naming started", code, body, err)
	}
	close(gate.letStart)
	natstest.WaitHTTP(t, readyz, func(code int, _ string) bool { return code == 200 })

	cancel()
	waitClosed(t, gate.stopping, "the component's Stop")
	code, body, err = natstest.HTTPGet(readyz)
	if err != nil || code != 503 || !strings.Contains(body, "started") {
		t.Fatalf("while parts stop: /readyz %d %s %v, want 503 naming started", code, body, err)
	}
	close(gate.letStop)
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	done <- nil // for the cleanup
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s was not called in 30s", what)
	}
}
