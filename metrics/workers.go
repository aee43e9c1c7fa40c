package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetflow/jetflow/consumers"
)

// workerMetrics are the message queue's collectors.
type workerMetrics struct {
	messages    *prometheus.CounterVec
	handler     *prometheus.HistogramVec
	deadLetters *prometheus.CounterVec
}

func newWorkerMetrics() *workerMetrics {
	w := &workerMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetflow_worker_messages_total", Help: "Messages a worker finished with, by subscription and result (acked, retried, dead_lettered, filtered, expired, skipped, returned).",
		}, []string{"subscription", "result"}),
		handler: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jetflow_worker_handler_duration_seconds", Help: "Handler calls, by subscription and result (ok or error).", Buckets: latencyBuckets,
		}, []string{"subscription", "result"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jetflow_dead_letters_total", Help: "Messages dead-lettered by workers, by subscription.",
		}, []string{"subscription"}),
	}
	return w
}

func (w *workerMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{w.messages, w.handler, w.deadLetters}
}

// ObserveOutcome implements consumers.Metrics.
func (m *Prometheus) ObserveOutcome(subscription string, o consumers.Outcome) {
	m.workers.messages.WithLabelValues(subscription, string(o)).Inc()
	if o == consumers.OutcomeDeadLettered {
		m.workers.deadLetters.WithLabelValues(subscription).Inc()
	}
}

// ObserveHandler implements consumers.Metrics.
func (m *Prometheus) ObserveHandler(subscription string, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.workers.handler.WithLabelValues(subscription, result).Observe(d.Seconds())
}
