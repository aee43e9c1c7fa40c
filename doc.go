// Package jetflow turns a domain written against jetflow's libraries into
// a running system. A program registers its parts on an App — aggregates
// with their commands (Aggregate), projections with their read models and
// queries (ReadModel, App.Projection), workers and topics (App.Worker,
// App.Topic), process managers with their deadlines (Process),
// long-running parts of its own (App.Component), typed sections of the
// configuration (Settings) and a bench workload (App.Bench) — and
// App.Main gives it the whole jetflow command line (serve, send, query,
// events, publish, projections, processes, schedules, dlq, worker,
// config, bench, version) with configuration from jetflow.tsk, JETFLOW_*
// variables and flags, metrics, health and clean shutdown. App.Run starts
// the same platform inside a program of its own, without the command line.
//
// The running platform's parts — the embedded server and connections, the
// metrics endpoints, the command service, projections, read models, the
// query service, workers, process managers, components — run as one
// lifecycle.Group: when one ends on its own, every other stops and Run
// returns its error.
//
// The packages it assembles are public too: wire (the wire contract's
// names: headers, error codes, replies), client (commands and queries over
// NATS), rpc (the micro service runner), streams (the event store),
// aggregates (commands), projections (read models and queries), consumers
// (topics, workers, scheduled messages, dead letters), processes (process
// managers and deadlines), metrics (the Prometheus adapter), lifecycle (the
// shape of long-running parts) and logctx (log attributes in a context);
// jetflowtest is the test kit. docs/your-own-domain.md is
// the tutorial.
package jetflow
