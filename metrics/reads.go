package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetflow/jetflow/projections"
)

// projectionStates are every state a projection reports, for the one-hot
// state gauge.
var projectionStates = []projections.State{
	projections.StateStarting, projections.StateStandby, projections.StateRunning, projections.StateRetrying,
	projections.StateFailed, projections.StateRebuilding, projections.StateStopped,
}

// readMetrics are the read side's collectors.
type readMetrics struct {
	applied  *prometheus.CounterVec
	skipped  *prometheus.CounterVec
	failures *prometheus.CounterVec
	batches  *prometheus.HistogramVec
	lag      *prometheus.GaugeVec
	state    *prometheus.GaugeVec
	queries  *prometheus.HistogramVec
}

func newReadMetrics() *readMetrics {
	r := &readMetrics{
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetflow_projection_events_applied_total", Help: "Events applied to a read model (writes confirmed, events acked).",
		}, []string{"projection"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetflow_projection_events_skipped_total", Help: "Events not applied: already_applied or operator (skipped on request).",
		}, []string{"projection", "reason"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetflow_projection_handler_failures_total", Help: "Failed attempts of a projection handler.",
		}, []string{"projection", "event_type"}),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jetflow_projection_batch_duration_seconds", Help: "A batch of read-model writes, from send to confirmation.", Buckets: latencyBuckets,
		}, []string{"projection"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jetflow_projection_lag_events", Help: "Events of the stream a projection has not applied yet.",
		}, []string{"projection"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "jetflow_projection_state", Help: "1 for the state a projection is in, 0 for the others.",
		}, []string{"projection", "state"}),
		queries: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jetflow_query_duration_seconds", Help: "Queries answered, by read model, query and result (ok or the error code).", Buckets: latencyBuckets,
		}, []string{"read_model", "query", "result"}),
	}
	return r
}

func (r *readMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.applied, r.skipped, r.failures, r.batches, r.lag, r.state, r.queries}
}

// EventsApplied implements projections.Metrics.
func (m *Prometheus) EventsApplied(projection string, n int) {
	m.reads.applied.WithLabelValues(projection).Add(float64(n))
}

// EventsSkipped implements projections.Metrics.
func (m *Prometheus) EventsSkipped(projection, reason string, n int) {
	m.reads.skipped.WithLabelValues(projection, reason).Add(float64(n))
}

// HandlerFailed implements projections.Metrics.
func (m *Prometheus) HandlerFailed(projection, eventType string) {
	m.reads.failures.WithLabelValues(projection, eventType).Inc()
}

// BatchConfirmed implements projections.Metrics.
func (m *Prometheus) BatchConfirmed(projection string, _ int, took time.Duration) {
	m.reads.batches.WithLabelValues(projection).Observe(took.Seconds())
}

// Lag implements projections.Metrics.
func (m *Prometheus) Lag(projection string, pending uint64) {
	m.reads.lag.WithLabelValues(projection).Set(float64(pending))
}

// StateChanged implements projections.Metrics.
func (m *Prometheus) StateChanged(projection string, state projections.State) {
	for _, s := range projectionStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.reads.state.WithLabelValues(projection, string(s)).Set(v)
	}
}

// QueryHandled implements projections.Metrics.
func (m *Prometheus) QueryHandled(readModel, query, result string, took time.Duration) {
	m.reads.queries.WithLabelValues(readModel, query, result).Observe(took.Seconds())
}
