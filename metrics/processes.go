package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// processMetrics are the process managers' collectors. Prometheus
// implements processes.Metrics with them; this package does not import
// processes (both sit in one layer), so the methods take plain values and
// a test checks the interface.
type processMetrics struct {
	started, ended, failed, fired, conflicts *prometheus.CounterVec
	handled, skipped                         *prometheus.CounterVec
	duration                                 *prometheus.HistogramVec
}

func newProcessMetrics() *processMetrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append([]string{"process"}, labels...))
	}
	return &processMetrics{
		started:   counter("jetflow_process_instances_started_total", "Process instances started, by process manager."),
		ended:     counter("jetflow_process_instances_ended_total", "Process instances that ended."),
		failed:    counter("jetflow_process_failures_total", "Failed attempts to handle a message (handler error or panic, invalid step, command not delivered); the message is retried, then dead-lettered."),
		fired:     counter("jetflow_process_deadlines_fired_total", "Deadlines handled."),
		conflicts: counter("jetflow_process_state_conflicts_total", "Instance writes another writer won (compare-and-set); the message was decided again."),
		handled:   counter("jetflow_process_messages_handled_total", "Messages handled: state stored and effects done, by kind (event or deadline).", "kind"),
		skipped:   counter("jetflow_process_messages_skipped_total", "Messages that did nothing, by reason (duplicate, not_started, ended, deadline_not_pending, no_instance).", "reason"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jetflow_process_handle_duration_seconds", Help: "Time to handle one message for one instance: read, decide, write, effects.", Buckets: latencyBuckets,
		}, []string{"process", "kind"}),
	}
}

func (p *processMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{p.started, p.ended, p.failed, p.fired, p.conflicts, p.handled, p.skipped, p.duration}
}

// ProcessStarted implements processes.Metrics.
func (m *Prometheus) ProcessStarted(process string) {
	m.processes.started.WithLabelValues(process).Inc()
}

// ProcessHandled implements processes.Metrics.
func (m *Prometheus) ProcessHandled(process, kind string, took time.Duration) {
	m.processes.handled.WithLabelValues(process, kind).Inc()
	m.processes.duration.WithLabelValues(process, kind).Observe(took.Seconds())
}

// ProcessEnded implements processes.Metrics.
func (m *Prometheus) ProcessEnded(process string) { m.processes.ended.WithLabelValues(process).Inc() }

// ProcessFailed implements processes.Metrics.
func (m *Prometheus) ProcessFailed(process string) { m.processes.failed.WithLabelValues(process).Inc() }

// DeadlineFired implements processes.Metrics.
func (m *Prometheus) DeadlineFired(process string) { m.processes.fired.WithLabelValues(process).Inc() }

// StateConflict implements processes.Metrics.
func (m *Prometheus) StateConflict(process string) {
	m.processes.conflicts.WithLabelValues(process).Inc()
}

// MessageSkipped implements processes.Metrics.
func (m *Prometheus) MessageSkipped(process, reason string) {
	m.processes.skipped.WithLabelValues(process, reason).Inc()
}
