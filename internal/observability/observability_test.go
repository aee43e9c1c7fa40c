package observability_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/observability"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpointsServeMetricsHealthAndReadiness(t *testing.T) {
	t.Parallel()
	reg, m := observability.NewRegistry()
	srv, err := observability.NewServer("127.0.0.1:0", reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var broken atomic.Bool
	srv.AddCheck(observability.Check{Name: "projections", Check: func(context.Context) error {
		if broken.Load() {
			return errors.New("projection users is failed at sequence 42")
		}
		return nil
	}})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	base := "http://" + srv.Addr()

	m.CommandHandled("user", "create", "ok", 3*time.Millisecond)
	m.CommandHandled("user", "create", "validation", time.Millisecond)
	m.AppendConflict("user")
	m.EventsAppended("user", 2)
	m.SnapshotTaken("user")
	m.ObserveOutcome("billing", consumers.OutcomeAcked)
	m.ObserveOutcome("billing", consumers.OutcomeDeadLettered)
	m.ObserveHandler("billing", 2*time.Millisecond, errors.New("boom"))
	code, body := get(t, base+"/metrics")
	for _, want := range []string{
		`jetflow_commands_total{aggregate_type="user",command="create",result="ok"} 1`,
		`jetflow_commands_total{aggregate_type="user",command="create",result="validation"} 1`,
		`jetflow_append_conflicts_total{aggregate_type="user"} 1`,
		`jetflow_events_appended_total{aggregate_type="user"} 2`,
		`jetflow_snapshots_taken_total{aggregate_type="user"} 1`,
		`jetflow_command_duration_seconds_count{aggregate_type="user",command="create"} 2`,
		`jetflow_worker_messages_total{result="acked",subscription="billing"} 1`,
		`jetflow_worker_messages_total{result="dead_lettered",subscription="billing"} 1`,
		`jetflow_dead_letters_total{subscription="billing"} 1`,
		`jetflow_worker_handler_duration_seconds_count{result="error",subscription="billing"} 1`,
		"go_goroutines",
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %s", code, want)
		}
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Errorf("/readyz = %d %s", code, body)
	}
	broken.Store(true)
	code, body = get(t, base+"/readyz")
	if code != 503 || !strings.Contains(body, "failed at sequence 42") {
		t.Errorf("/readyz with a failed check = %d %s", code, body)
	}
}
