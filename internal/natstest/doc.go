// Package natstest owns the test harness: real embedded JetStream servers on
// random loopback ports with temporary store dirs, single nodes and 3-node
// clusters, each torn down by t.Cleanup. Tests in every package start their
// servers here; nothing in jetflow mocks NATS.
package natstest
