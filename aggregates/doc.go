// Package aggregates owns the write side of jetflow: the aggregate contract
// (apply events, decide commands), the generic repository that loads an
// aggregate from its latest snapshot plus the events after it and saves new
// events with the expected sequence of the last one, the snapshot policy,
// the bounded cache of recently used aggregates, automatic retry on
// concurrency conflicts, idempotent commands, and the command service that
// serves commands over NATS request/reply as the micro service
// "jetflow-commands".
//
// Concurrency: the event store's expected-sequence check is the only
// correctness guarantee. Within one process, commands on the same aggregate
// are serialized on its cache entry so they do not conflict with each other;
// across processes, a conflict reloads the aggregate and decides again
// (unless the client named the version it expects, which is answered 409).
//
// Idempotency: events record the command id as their causation id. The
// repository remembers which commands produced the aggregate's recent events
// (also across snapshots), so a command resent with the same
// Jetflow-Command-Id returns the first reply and writes nothing. Event ids of
// such commands are derived from the command id (UUIDv5), so a resend racing
// its own first attempt is deduplicated by the event store as well.
//
// To start: a state with Apply, a Repository over a streams.Store and
// deciders run with Execute, as the package example does; commands served
// over NATS are CommandSpecs added with Register to a Service. In a whole
// application, jetflow.Aggregate registers the state and its commands,
// and jetflowtest.Given tests a command's decision without a server.
package aggregates
