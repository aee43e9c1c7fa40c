// Package streams owns everything jetflow keeps in JetStream at the lowest
// level: the definitions of the EVENTS stream and the snapshot bucket and
// their idempotent provisioning, the event envelope and its wire headers, the
// event store (append with optimistic concurrency, load, read all), event
// upcasting, the snapshot store, and the validation of the names that become
// subjects.
package streams
