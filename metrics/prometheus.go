package metrics

import (
	"fmt"
	"time"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/projections"
	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus reports what jetflow does as Prometheus metrics: it
// implements aggregates.Metrics, projections.Metrics, consumers.Metrics
// and processes.Metrics, so one value goes to every part through their
// WithMetrics options.
type Prometheus struct {
	commands        *prometheus.CounterVec
	commandDuration *prometheus.HistogramVec
	conflicts       *prometheus.CounterVec
	eventsAppended  *prometheus.CounterVec
	snapshots       *prometheus.CounterVec
	workers         *workerMetrics
	reads           *readMetrics
	processes       *processMetrics
}

var (
	_ aggregates.Metrics  = (*Prometheus)(nil)
	_ projections.Metrics = (*Prometheus)(nil)
	_ consumers.Metrics   = (*Prometheus)(nil)
)

// latencyBuckets span 100µs to ~10s, where command and query latencies live.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 2.5, 14)

// NewPrometheus registers jetflow's collectors (every metric is named
// jetflow_…) on reg and returns what reports to them. It fails, naming the
// collector, when reg already has one of them: give each Prometheus its
// own registry, or share one Prometheus. The Go runtime and process
// collectors are the program's to register.
func NewPrometheus(reg prometheus.Registerer) (*Prometheus, error) {
	m := &Prometheus{}
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
	m.workers = newWorkerMetrics()
	m.reads = newReadMetrics()
	m.processes = newProcessMetrics()
	collectors := append([]prometheus.Collector{m.commands, m.commandDuration, m.conflicts, m.eventsAppended, m.snapshots},
		append(m.workers.collectors(), m.reads.collectors()...)...)
	collectors = append(collectors, m.processes.collectors()...)
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register %s: %w", describe(c), err)
		}
	}
	return m, nil
}

// describe names a collector by its metric.
func describe(c prometheus.Collector) string {
	ch := make(chan *prometheus.Desc, 1)
	go func() { c.Describe(ch); close(ch) }()
	var name string
	for d := range ch {
		if name == "" {
			name = d.String()
		}
	}
	return name
}

// CommandHandled implements aggregates.Metrics.
func (m *Prometheus) CommandHandled(aggregateType, command, result string, took time.Duration) {
	m.commands.WithLabelValues(aggregateType, command, result).Inc()
	m.commandDuration.WithLabelValues(aggregateType, command).Observe(took.Seconds())
}

// AppendConflict implements aggregates.Metrics.
func (m *Prometheus) AppendConflict(aggregateType string) {
	m.conflicts.WithLabelValues(aggregateType).Inc()
}

// EventsAppended implements aggregates.Metrics.
func (m *Prometheus) EventsAppended(aggregateType string, n int) {
	m.eventsAppended.WithLabelValues(aggregateType).Add(float64(n))
}

// SnapshotTaken implements aggregates.Metrics.
func (m *Prometheus) SnapshotTaken(aggregateType string) {
	m.snapshots.WithLabelValues(aggregateType).Inc()
}
