package aggregates

import (
	"context"
	"iter"

	"github.com/jetflow/jetflow/streams"
)

// EventStore is what a Repository reads and writes events with: a
// *streams.Store on JetStream, or an in-memory store that keeps the same
// promises (jetflowtest.NewEventStore) to test a repository without NATS.
//
// The promises a Repository relies on, as streams.Store keeps them:
//   - Append stores every event or none, after the aggregate's position
//     after (the zero Position for a new aggregate); when the aggregate has
//     moved on it stores nothing and returns an error matching
//     streams.ErrConcurrencyConflict.
//   - An append whose events (by ID) are already stored right after after
//     is answered with their stored result, so a resend is stored once.
//   - An append it cannot confirm returns a *streams.OutcomeUnknownError;
//     the repository sends the same events again to settle it.
//   - Load yields the aggregate's events stored after stream sequence
//     after, in order, with their versions and sequences.
type EventStore interface {
	Append(ctx context.Context, aggregateType, aggregateID string, after streams.Position, events ...streams.Event) (streams.AppendResult, error)
	Load(ctx context.Context, aggregateType, aggregateID string, after uint64) iter.Seq2[streams.Event, error]
}

// SnapshotStore keeps an aggregate's latest snapshot: a *streams.Snapshots
// on a KV bucket, or an in-memory one (jetflowtest.NewSnapshotStore).
// Load returns streams.ErrSnapshotNotFound when there is none; Save never
// replaces a snapshot of a later version (streams.ErrSnapshotStale);
// Refresh also replaces one of the same version.
type SnapshotStore interface {
	Load(ctx context.Context, aggregateType, aggregateID string) (streams.Snapshot, error)
	Save(ctx context.Context, snap streams.Snapshot) error
	Refresh(ctx context.Context, snap streams.Snapshot) error
}

var (
	_ EventStore    = (*streams.Store)(nil)
	_ SnapshotStore = (*streams.Snapshots)(nil)
)
