// Package jetflow turns a domain written against jetflow's libraries into
// a running system. A program registers its parts on an App — aggregates
// with their commands, projections with their read models and queries,
// workers and topics — and App.Main gives it the whole jetflow command
// line (serve, send, query, events, projections, dlq, worker, config,
// bench, version) with configuration from jetflow.tsk, JETFLOW_*
// variables and flags, metrics, health and clean shutdown. App.Run starts
// the same platform inside a program of its own, without the command line.
//
// The libraries it assembles are public too: streams (the event store),
// aggregates (commands), projections (read models and queries) and
// consumers (topics, workers, dead letters); jetflowtest is the test kit.
package jetflow
