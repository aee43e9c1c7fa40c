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
	"github.com/jetflow/jetflow/processes"
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

// Prometheus implements processes.Metrics without importing processes
// (they share a layer): this keeps the method sets in step.
var _ processes.Metrics = (*metrics.Prometheus)(nil)

func TestPrometheusReportsProcesses(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.NewPrometheus(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.ProcessStarted("payment")
	m.ProcessHandled("payment", processes.KindEvent, time.Millisecond)
	m.ProcessHandled("payment", processes.KindDeadline, time.Millisecond)
	m.ProcessEnded("payment")
	m.ProcessFailed("payment")
	m.DeadlineFired("payment")
	m.StateConflict("payment")
	m.StateConflict("payment")
	m.MessageSkipped("payment", processes.ReasonEnded)
	want := `
# HELP jetflow_process_instances_started_total Process instances started, by process manager.
# TYPE jetflow_process_instances_started_total counter
jetflow_process_instances_started_total{process="payment"} 1
# HELP jetflow_process_messages_handled_total Messages handled: state stored and effects done, by kind (event or deadline).
# TYPE jetflow_process_messages_handled_total counter
jetflow_process_messages_handled_total{kind="deadline",process="payment"} 1
jetflow_process_messages_handled_total{kind="event",process="payment"} 1
# HELP jetflow_process_state_conflicts_total Instance writes another writer won (compare-and-set); the message was decided again.
# TYPE jetflow_process_state_conflicts_total counter
jetflow_process_state_conflicts_total{process="payment"} 2
# HELP jetflow_process_messages_skipped_total Messages that did nothing, by reason (duplicate, not_started, ended, deadline_not_pending, no_instance).
# TYPE jetflow_process_messages_skipped_total counter
jetflow_process_messages_skipped_total{process="payment",reason="ended"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"jetflow_process_instances_started_total", "jetflow_process_messages_handled_total",
		"jetflow_process_state_conflicts_total", "jetflow_process_messages_skipped_total"); err != nil {
		t.Error(err)
	}
	want = `
# HELP jetflow_process_instances_ended_total Process instances that ended.
# TYPE jetflow_process_instances_ended_total counter
jetflow_process_instances_ended_total{process="payment"} 1
# HELP jetflow_process_failures_total Failed attempts to handle a message (handler error or panic, invalid step, command not delivered); the message is retried, then dead-lettered.
# TYPE jetflow_process_failures_total counter
jetflow_process_failures_total{process="payment"} 1
# HELP jetflow_process_deadlines_fired_total Deadlines handled.
# TYPE jetflow_process_deadlines_fired_total counter
jetflow_process_deadlines_fired_total{process="payment"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"jetflow_process_instances_ended_total", "jetflow_process_failures_total", "jetflow_process_deadlines_fired_total"); err != nil {
		t.Error(err)
	}
}
