// Package consumers owns jetflow's message queue: topics, publishing,
// durable subscriptions, the worker runtime (handlers, middleware, retries,
// backoff, payload filters, priorities, TTL) and the dead-letter queue. The
// same runtime serves integration messages on topics and event handlers on
// the EVENTS stream.
//
// # Topics
//
// A topic is the stream TOPIC_<NAME> over the subjects topic.<name>.>, with
// limits retention (a dead letter's original is read back by sequence, and
// every pub/sub subscription reads the same messages), a max age, replicas,
// a duplicate window and per-message TTLs allowed. Topic names are lower
// case so the stream name maps back to one topic. A message's subject is
//
//	topic.<name>.<priority>.<key>
//
// where priority is low, normal, high or critical and key is the optional
// dotted suffix the publisher chose ("_" when none), which subscriptions
// filter on server-side. Headers: Nats-Msg-Id (dedup), Nats-TTL and
// Jetflow-Expires-At (TTL), Jetflow-Correlation-Id, Jetflow-Causation-Id,
// Jetflow-User-Id and traceparent.
//
// Publisher.Publish waits for the ack; PublishAsync pipelines, bounded by
// the JetStream context's async window, and returns the ack's future;
// PublishBatch pipelines a slice and waits for all acks.
//
// # Subscriptions and priorities
//
// JetStream cannot filter on headers, so the priority lives in the subject
// and a topic subscription is four durable pull consumers, one per priority
// (<durable>-critical … <durable>-low), each AckExplicit with MaxDeliver =
// MaxRetries+1 plus 5 spare deliveries for messages that never reached a
// handler's verdict (returned by a stopping worker, left by a dead one);
// the worker dead-letters a failing message itself. ModeQueue shares the durable <name> between every worker
// running the subscription; ModePubSub gives each instance its own durable
// <name>_<instance>. A subscription on another stream (events.user.>) is one
// consumer, without priorities.
//
// The worker runs one Consume per priority and concurrency slot and calls
// the handler on the consume callback's own goroutine, as a raw pull
// consumer does, so there is no hand-off on the hot path. A gate hands out
// the Concurrency slots: a delivery that may not run yet (no free slot, or
// a more urgent priority waiting or known to have more messages on the way,
// from the consumers' pending counts at start and the delivery metadata
// later) is held by the gate, and runner goroutines take held messages most
// urgent first. With a backlog, critical is handled before high before
// normal before low. Held messages get progress acks, so waiting behind a
// long backlog never makes them redelivered or dead-lettered; a priority
// holding BatchSize messages stops pulling ahead until half of them ran.
// Messages a callback's client buffered while its handler runs still age,
// which is why BatchSize × handler time should stay well under AckWait.
//
// # Handling a message
//
// In order: past its Jetflow-Expires-At → acked, never handled (the server
// removes it on its own schedule); a replay meant for another subscription
// → acked and skipped; rejected by the payload filters → acked and counted,
// never dead-lettered; otherwise the handler runs. nil → Ack (not
// DoubleAck: waiting for the server per message would halve throughput and
// a lost ack costs one redelivery). An error → NakWithDelay with the backoff
// schedule (the consumer's BackOff does not apply to naks). A Permanent
// error, or a failure on the last allowed delivery → TermWithReason(the
// error text), so the MSG_TERMINATED advisory carries the reason. A handler
// that outlives AckWait keeps its message through progress acks; one that
// hangs until AckWait passes on its last delivery makes the server publish
// MAX_DELIVERIES. Panics become errors.
//
// Stop stops pulling and lets in-flight and already-pulled messages finish
// until its context ends, then cancels handlers and naks what is left for
// redelivery: nothing is lost, though a message nak'd on its last allowed
// delivery is dead-lettered (MAX_DELIVERIES) and can be replayed. A pull
// request outlives the subscription that sent it, so messages the server
// was still sending when the worker stopped never reach it: they come back
// to the next worker after AckWait, not at once.
//
// # Scheduled messages
//
// Publisher.PublishAt and PublishAfter store a message for delivery at a
// later time, as a nats-server schedule (Nats-Schedule: @at …) on the
// topic's subject topic.<name>._schedule.<id>; at its time the server
// stores the message on its topic subject, where subscriptions get it.
// An id has at most one pending schedule. CancelScheduled cancels one: it
// returns nil only if the schedule was pending when the cancellation was
// stored, and then no worker ever hands the message to a handler — the
// worker acks unhandled a copy the server fired at that very moment
// (OutcomeCancelled). ListScheduled lists the pending ones.
// docs/processes.md gives the wire form and the server's behaviour.
//
// # Dead letters
//
// The DLQ stream captures $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.> and
// $JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.> for every consumer of the
// account. A dead letter's id is its DLQ sequence; it shows the advisory
// (stream, consumer, stream sequence, deliveries, reason, time) and the
// original message read from the source stream by sequence, or says
// explicitly that the stream no longer holds it. The server also
// terminates messages removed by limits while pending; those appear with
// the server's reason and no original. Replay republishes a topic
// message's original to its subject with Jetflow-Replayed-From (the dead
// letter id) and Jetflow-Replay-For (the subscription; the topic's other
// subscriptions skip it), then removes the dead letter. Messages of other
// streams (EVENTS) are never republished. Discard deletes one dead letter.
//
// # Getting started
//
// EnsureTopic creates a topic, NewWorker runs a Subscription's handler and
// NewPublisher publishes to it, as the package example shows. In a whole
// application, jetflow.App.Topic and jetflow.App.Worker register them and
// the platform adds logging, metrics and the dead-letter queue.
package consumers
