// Package wire owns jetflow's wire contract as Go names: the headers of
// events, commands, queries and topic messages; the status and error codes
// of error replies and the *Error that carries them (matched with
// errors.Is against ErrInvalid, ErrNotFound, ErrConflict…); the reply of a
// command; the inboxes replies may go to; the strict JSON decoding every
// request body gets; and the W3C trace context that travels with a change.
//
// Everything here is what other languages and the nats CLI see, defined
// once: the services (packages aggregates and projections, through rpc),
// the event store (streams), the message queue (consumers) and the client
// (package client) all use these names.
package wire
