// Package natsserver owns the embedded NATS server that jetflow runs when it
// is not given the URL of an existing server: building its options (from
// flags or a nats.conf file), starting it, waiting until it is ready and
// routing its log lines into slog. The test harness and `jetflow serve` and
// `jetflow bench` all start servers through it.
package natsserver
