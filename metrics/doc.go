// Package metrics owns jetflow's Prometheus adapter: Prometheus implements
// the Metrics hooks of packages aggregates, projections, consumers and
// processes and registers its collectors (jetflow_commands_total,
// jetflow_projection_lag_events, jetflow_worker_messages_total,
// jetflow_process_instances_started_total…) on the prometheus.Registerer
// it is given, as client_golang's libraries do.
// `jetflow serve` exposes them on /metrics; a program that embeds the
// libraries passes its own registry.
package metrics
