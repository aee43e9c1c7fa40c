package jetflowtest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/jetflow/jetflow/streams"
)

// SnapshotStore is an in-memory snapshot store for tests: an
// aggregates.SnapshotStore with the rules of a *streams.Snapshots on a KV
// bucket. Snapshots are keyed by streams.SnapshotKey, so a type or id it
// refuses is refused here too; Load returns streams.ErrSnapshotNotFound
// when there is none; Save never replaces a snapshot of the same or a
// later version (streams.ErrSnapshotStale) and Refresh replaces one of the
// same version. A snapshot is kept as JSON, as the bucket keeps it, so
// what Load returns is what a round trip through the bucket gives (the
// state compacted, times as JSON carries them).
// It is safe for concurrent use.
type SnapshotStore struct {
	mu    sync.Mutex
	snaps map[string][]byte // SnapshotKey → the snapshot as JSON
}

// NewSnapshotStore returns an empty in-memory snapshot store.
func NewSnapshotStore() *SnapshotStore {
	return &SnapshotStore{snaps: map[string][]byte{}}
}

// Load returns the aggregate's snapshot, or an error matching
// streams.ErrSnapshotNotFound.
func (s *SnapshotStore) Load(ctx context.Context, aggregateType, aggregateID string) (streams.Snapshot, error) {
	key, err := streams.SnapshotKey(aggregateType, aggregateID)
	if err != nil {
		return streams.Snapshot{}, err
	}
	if err := ctx.Err(); err != nil {
		return streams.Snapshot{}, fmt.Errorf("jetflowtest: load snapshot %s: %w", key, err)
	}
	s.mu.Lock()
	data, ok := s.snaps[key]
	s.mu.Unlock()
	if !ok {
		return streams.Snapshot{}, fmt.Errorf("%w: %s", streams.ErrSnapshotNotFound, key)
	}
	var snap streams.Snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return streams.Snapshot{}, fmt.Errorf("jetflowtest: snapshot %s is not valid: %w", key, err)
	}
	return snap, nil
}

// Save stores snap unless the stored snapshot is at the same or a later
// version: then it returns an error matching streams.ErrSnapshotStale and
// changes nothing.
func (s *SnapshotStore) Save(ctx context.Context, snap streams.Snapshot) error {
	return s.save(ctx, snap, false)
}

// Refresh is Save that also replaces a snapshot of the same version; a
// later one is never replaced (streams.ErrSnapshotStale).
func (s *SnapshotStore) Refresh(ctx context.Context, snap streams.Snapshot) error {
	return s.save(ctx, snap, true)
}

func (s *SnapshotStore) save(ctx context.Context, snap streams.Snapshot, sameVersion bool) error {
	key, data, err := streams.EncodeSnapshot(snap)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jetflowtest: save snapshot %s: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if stored, ok := s.snaps[key]; ok {
		var current streams.Snapshot
		if json.Unmarshal(stored, &current) == nil &&
			(current.Version > snap.Version || current.Version == snap.Version && !sameVersion) {
			return fmt.Errorf("%w: %s has version %d, this one %d", streams.ErrSnapshotStale, key, current.Version, snap.Version)
		}
	}
	s.snaps[key] = data
	return nil
}
