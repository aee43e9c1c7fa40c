package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/metrics"
	"github.com/jetflow/jetflow/projections"
)

func TestPrometheusReportsOnTheGivenRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.NewPrometheus(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.CommandHandled("order", "place", "ok", 2*time.Millisecond)
	m.CommandHandled("order", "place", "conflict", time.Millisecond)
	m.EventsAppended("order", 3)
	m.StateChanged("orders", projections.StateRunning)
	m.Lag("orders", 7)
	m.QueryHandled("orders", "by_customer", "ok", time.Millisecond)
	m.ObserveHandler("fulfilment", time.Millisecond, errors.New("boom"))
	m.ObserveOutcome("fulfilment", consumers.OutcomeDeadLettered)

	want := `
# HELP jetflow_commands_total Commands handled, by aggregate type, command and result (ok or the error code).
# TYPE jetflow_commands_total counter
jetflow_commands_total{aggregate_type="order",command="place",result="conflict"} 1
jetflow_commands_total{aggregate_type="order",command="place",result="ok"} 1
# HELP jetflow_events_appended_total Events appended by commands.
# TYPE jetflow_events_appended_total counter
jetflow_events_appended_total{aggregate_type="order"} 3
# HELP jetflow_projection_lag_events Events of the stream a projection has not applied yet.
# TYPE jetflow_projection_lag_events gauge
jetflow_projection_lag_events{projection="orders"} 7
# HELP jetflow_dead_letters_total Messages dead-lettered by workers, by subscription.
# TYPE jetflow_dead_letters_total counter
jetflow_dead_letters_total{subscription="fulfilment"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "jetflow_commands_total", "jetflow_events_appended_total",
		"jetflow_projection_lag_events", "jetflow_dead_letters_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "jetflow_projection_state"); n != 7 {
		t.Errorf("jetflow_projection_state has %d series, want one per state (7)", n)
	}
	if n := testutil.CollectAndCount(reg, "jetflow_worker_handler_duration_seconds", "jetflow_query_duration_seconds"); n != 2 {
		t.Errorf("%d handler and query series, want 2", n)
	}
}

// A second adapter on the same registry is refused with an error naming
// the metric, never a panic in the caller's program.
func TestPrometheusRefusesARegistryThatHasItsMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := metrics.NewPrometheus(reg); err != nil {
		t.Fatal(err)
	}
	_, err := metrics.NewPrometheus(reg)
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) || !strings.Contains(err.Error(), "jetflow_commands_total") {
		t.Fatalf("second NewPrometheus = %v, want an AlreadyRegisteredError naming jetflow_commands_total", err)
	}
}
