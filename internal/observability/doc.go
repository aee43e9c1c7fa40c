// Package observability owns what operators probe: the HTTP endpoints
// /metrics (what a prometheus.Gatherer holds: the metrics package's
// collectors, the Go runtime's and the process's), /healthz (the process is
// up) and /readyz (every readiness check holds: NATS connected, streams
// provisioned, projections healthy and caught up). It also builds the
// registry a jetflow process serves.
package observability
