// Package rpc runs NATS micro services that keep jetflow's wire contract
// (package wire): requests routed by their exact subject to handlers on a
// bounded pool, panics answered 500, requests to unknown subjects under the
// prefix answered 404 naming the known ones, replies sent only to inboxes,
// each endpoint's own figures in `nats micro stats`, and a stop that
// answers every request it took. It also says who sent a request
// (IdentityMode, Caller): the NATS server's stamp on a request that
// crossed accounts, or the client's Jetflow-User-Id where that is trusted.
// The command service (package aggregates)
// and the query service (package projections) run on it; a domain can run
// endpoints of its own the same way.
package rpc
