// Package observability owns what operators watch: the Prometheus metrics
// of every part of jetflow (one registry, implementing the Metrics hooks the
// packages expose), Go runtime metrics, and the HTTP endpoints /metrics,
// /healthz (the process is up) and /readyz (NATS connected, streams
// provisioned, projections healthy and caught up).
package observability
