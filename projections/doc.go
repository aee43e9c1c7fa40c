// Package projections owns jetflow's read side: the projection runner that
// keeps read models in KV buckets up to date from the EVENTS stream, their
// checkpoints, rebuilds and lag, and the query service that serves read
// models over NATS as the micro service "jetflow-queries".
//
// # Projections
//
// A projection is a name ("users"), the event subjects it follows
// ("events.user.>") and a Handler that turns one event into the new value
// of one record. It runs as a durable pull consumer on EVENTS with explicit
// acks, in stream order, and writes to its bucket (rm_<name> at generation
// 1). Writes are pipelined: each batch of events is applied in memory, the
// changed records are published asynchronously to the bucket's
// $KV.<bucket>.<key> subjects (a bounded number in flight), and the events
// are acked only once their writes are confirmed. The consumer's ack floor
// is therefore the checkpoint. While the consumer reports a backlog (a
// rebuild, a restart after downtime) batches grow into windows of up to
// CatchUpBatch events or CatchUpWait, so the events of one record within a
// window cost one write; a live projection writes each batch at once.
//
// Idempotency: every record carries the stream sequence of the last event
// applied to it in the Jetflow-Projection-Sequence header of its KV
// message; an event at or below it is skipped. A value written for an event
// is computed from every earlier event of its key (in flight or stored), so
// a later value always contains the earlier ones and a crash at any point
// converges to the same read model: on every (re)start the consumer is
// reset to its ack floor and redelivers, in order, what was not acked.
//
// After a batch's writes are confirmed the runner writes the checkpoint
// record (key "_jetflow.checkpoint", {"sequence":S}) into the same bucket.
// Whoever watches the bucket sees it after every record it covers, which is
// what lets the query side answer min_sequence exactly.
//
// A handler that keeps failing is retried with backoff; then the projection
// stops in the failed state naming the event (sequence, type, error). It
// never skips an event on its own: an operator skips it (Admin.Skip) or
// fixes the cause and resumes (Admin.Resume). Operators act through the
// meta bucket (jetflow_projections), which every runner watches.
//
// One writer per consumer: a runner holds a lease (a key with a server-side
// TTL in the meta bucket) while it runs a generation, so several jetflow
// processes can run the same projections with one active and the others on
// standby. A runner that loses its lease writes and acks nothing more; only
// the holder stores the generation's status.
//
// # Rebuilds
//
// Admin.Rebuild builds generation N+1 into a fresh bucket from sequence 1
// while generation N keeps serving, then records the switch in the meta
// bucket in one compare-and-set, and removes the old bucket and consumer.
// It is resumable: the target generation is recorded before any work, and
// its consumer's ack floor is its checkpoint. What a rebuild cut off after
// the switch leaves retired, the runner of the new generation removes.
//
// # Queries
//
// A View keeps a read model in memory, loaded and kept current from the
// active bucket's watch, and follows the meta bucket to swap to a rebuilt
// bucket once that one is loaded and has caught up with the old one. QueryService serves queries over NATS
// micro; a query's min_sequence waits (bounded) for the view's checkpoint.
//
// # Getting started
//
// A Projection with a JSONHandler, run by a Runner, as the Runner example
// shows. In a whole application, jetflow.ReadModel registers a projection
// with its in-memory model and queries (jetflow.App.Projection one without
// queries), and jetflowtest.GivenEvents tests a handler without a server.
package projections
