package observability

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is jetflow's Prometheus registry and the collectors the packages
// report to through their Metrics interfaces.
type Metrics struct {
	Registry *prometheus.Registry

	commands        *prometheus.CounterVec
	commandDuration *prometheus.HistogramVec
	conflicts       *prometheus.CounterVec
	eventsAppended  *prometheus.CounterVec
	snapshots       *prometheus.CounterVec
	workers         *workerMetrics
	reads           *readMetrics
}

// latencyBuckets span 100µs to ~10s, where command and query latencies live.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2.5, 14)

// NewMetrics registers every collector on a new registry, with the Go
// runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jetflow_commands_total", Help: "Commands handled, by aggregate type, command and result (ok or the error code).",
	}, []string{"aggregate_type", "command", "result"})
	m.commandDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "jetflow_command_duration_seconds", Help: "Time from a command's arrival to its reply.", Buckets: latencyBuckets,
	}, []string{"aggregate_type", "command"})
	m.conflicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jetflow_append_conflicts_total", Help: "Appends refused by the expected-sequence check.",
	}, []string{"aggregate_type"})
	m.eventsAppended = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jetflow_events_appended_total", Help: "Events appended by commands.",
	}, []string{"aggregate_type"})
	m.snapshots = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jetflow_snapshots_taken_total", Help: "Aggregate snapshots saved.",
	}, []string{"aggregate_type"})
	m.workers = newWorkerMetrics(m.Registry)
	m.reads = newReadMetrics(m.Registry)
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.commands, m.commandDuration, m.conflicts, m.eventsAppended, m.snapshots,
	)
	return m
}

// CommandHandled implements aggregates.Metrics.
func (m *Metrics) CommandHandled(aggregateType, command, result string, took time.Duration) {
	m.commands.WithLabelValues(aggregateType, command, result).Inc()
	m.commandDuration.WithLabelValues(aggregateType, command).Observe(took.Seconds())
}

// AppendConflict implements aggregates.Metrics.
func (m *Metrics) AppendConflict(aggregateType string) {
	m.conflicts.WithLabelValues(aggregateType).Inc()
}

// EventsAppended implements aggregates.Metrics.
func (m *Metrics) EventsAppended(aggregateType string, n int) {
	m.eventsAppended.WithLabelValues(aggregateType).Add(float64(n))
}

// SnapshotTaken implements aggregates.Metrics.
func (m *Metrics) SnapshotTaken(aggregateType string) {
	m.snapshots.WithLabelValues(aggregateType).Inc()
}
