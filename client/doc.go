// Package client sends commands and queries to a jetflow application over
// NATS, as any client of it would: the command service's reply is a
// wire.CommandReply, a refusal is a *wire.Error matched with errors.Is
// (wire.ErrConflict, wire.ErrNotFound…), and a query's reply is decoded
// into the caller's type. The `jetflow send` and `jetflow query` commands
// and the test kit's app harness use it.
package client
