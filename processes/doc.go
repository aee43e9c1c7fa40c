// Package processes owns jetflow's process managers (sagas): long-running
// flows that react to events across aggregates and time — when an order
// is placed, ask for payment; when the payment arrives, mark the order
// paid; if none arrives within 30 minutes, cancel the order.
//
// A Definition names a manager, the events that start and move its
// instances, which instance each event concerns (On.Instances: the
// aggregate id, or a field of the data with Field) and the deadlines it
// handles. A handler gets the instance (its state S, the time, its pending
// deadlines) and the event, and returns a Step: the new state, commands
// to send, deadlines to set or cancel, and whether the instance ends.
// Handlers decide; the manager does.
//
// # What the manager guarantees
//
// A Manager runs two workers of package consumers — on the event stream,
// and on the deadline topic — so retries, backoff and the dead-letter
// queue are the workers'. For each message and each instance it concerns:
//
//  1. It reads the instance's record from its KV bucket (proc_<name>, key
//     InstanceKey(id)) and runs the handler. An error or a panic leaves
//     the record untouched; the message is retried, then dead-lettered.
//  2. It writes the new record with compare-and-set on the revision it
//     read (Nats-Expected-Last-Subject-Sequence). Within a process one
//     instance handles one message at a time; across processes a lost
//     race is decided again on the winner's record, never lost.
//  3. The record lists the message as handled and the step's effects as
//     pending. Then the manager does them: deadlines scheduled or
//     cancelled, commands sent over the command service with a
//     Jetflow-Command-Id derived from the message and the command's
//     position (CommandID), so a resend has no second effect.
//  4. Only then is the message acknowledged. A redelivered message is
//     found in the record: its step is not decided again, its pending
//     effects are done again with the same ids.
//
// An instance that ends is removed (its record replaced by a tombstone,
// remembered for Config.RememberEnded) or kept for Config.KeepEnded; a
// late event for it is skipped with a log line, as is an event that does
// not start an instance for one that does not exist.
//
// # Deadlines
//
// A deadline is a scheduled message on the deadline topic (package
// consumers, PublishAt), stored in the topic's stream: nats-server keeps
// it across restarts and publishes it at its time (Nats-Schedule). Each
// setting of a deadline has its own id, recorded in the instance's
// record. When one fires, its handler runs only if the record still lists
// that id as pending; cancelling or replacing a deadline removes it from
// the record in the same compare-and-set write as the step that decided
// it, so a cancelled deadline never runs, even when the server fires it at
// that very moment. docs/processes.md explains it in full.
//
// # Getting started
//
// Write a Definition, register it with jetflow.Process on an App (serve
// runs it, configured by [processes.<name>] of jetflow.tsk), and test it
// without a server with jetflowtest.GivenProcess, or with a Simulation.
// New runs a Manager on a connection of your own.
package processes
