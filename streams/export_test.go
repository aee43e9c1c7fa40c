package streams

import "github.com/nats-io/nats.go/jetstream"

// NewSnapshotsOver lets tests put a KV between the snapshot store and the
// server, to act between its read and its write.
func NewSnapshotsOver(kv jetstream.KeyValue) *Snapshots { return &Snapshots{kv: kv} }
