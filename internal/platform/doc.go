// Package platform owns the start and stop of a jetflow process's shared
// plumbing: the embedded NATS server (or the connection to an existing one),
// the provisioning of the event store, and the order of shutdown (services
// first, the connection next, the embedded server last). `jetflow serve`,
// `jetflow worker` and the end-to-end tests build on it.
package platform
