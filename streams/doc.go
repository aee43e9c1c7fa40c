// Package streams owns everything jetflow keeps in JetStream at the lowest
// level: the definitions of the EVENTS stream and the snapshot bucket and
// their idempotent provisioning, the commit (one message per append, holding
// its events; docs/event-format.md) and its decoding, also of the format
// before commits, the event store (append with optimistic concurrency, load,
// read all), event upcasting, the snapshot store, and the validation of the
// names that become subjects.
//
// To start, connect to a JetStream server (jetflowtest.StartServer runs an
// embedded one in a program or an Example), create the stream and bucket
// with Provision, and append and load through NewStore: the example of
// Store.Append shows all of it. Aggregates, projections and workers build
// on this package; most programs use them rather than the Store directly.
package streams
