package observability

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jetflow/jetflow/metrics"
)

// NewRegistry returns a registry with the Go runtime and process
// collectors and jetflow's own, and what reports to the latter.
func NewRegistry() (*prometheus.Registry, *metrics.Prometheus) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.NewPrometheus(reg)
	if err != nil {
		panic(err) // a new registry holds none of them
	}
	return reg, m
}
