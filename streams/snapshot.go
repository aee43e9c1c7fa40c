package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Snapshot is an aggregate's state at a version, so a load replays only the
// events after Sequence.
type Snapshot struct {
	AggregateType string          `json:"aggregate_type"`
	AggregateID   string          `json:"aggregate_id"`
	Version       uint64          `json:"version"`
	Sequence      uint64          `json:"sequence"`
	Schema        int             `json:"schema"`
	State         json.RawMessage `json:"state"`
	TakenAt       time.Time       `json:"taken_at"`
}

// Snapshots stores snapshots in a KV bucket, key <type>.<id>.
type Snapshots struct {
	kv jetstream.KeyValue
}

// NewSnapshots returns the snapshot store over the configured bucket, which
// must exist (see Provision).
func NewSnapshots(ctx context.Context, js jetstream.JetStream, cfg Config) (*Snapshots, error) {
	cfg = cfg.withDefaults()
	kv, err := js.KeyValue(ctx, cfg.SnapshotBucket)
	if err != nil {
		return nil, fmt.Errorf("streams: snapshot bucket %s: %w", cfg.SnapshotBucket, err)
	}
	return &Snapshots{kv: kv}, nil
}

func snapshotKey(aggregateType, aggregateID string) (string, error) {
	if err := errors.Join(ValidateAggregateType(aggregateType), ValidateAggregateID(aggregateID)); err != nil {
		return "", err
	}
	return aggregateType + "." + aggregateID, nil
}

// Load returns the aggregate's snapshot, or ErrSnapshotNotFound.
func (s *Snapshots) Load(ctx context.Context, aggregateType, aggregateID string) (Snapshot, error) {
	key, err := snapshotKey(aggregateType, aggregateID)
	if err != nil {
		return Snapshot{}, err
	}
	snap, _, err := s.get(ctx, key)
	return snap, err
}

func (s *Snapshots) get(ctx context.Context, key string) (Snapshot, uint64, error) {
	entry, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Snapshot{}, 0, ErrSnapshotNotFound
	}
	if err != nil {
		return Snapshot{}, 0, fmt.Errorf("streams: load snapshot %s: %w", key, err)
	}
	var snap Snapshot
	if err := json.Unmarshal(entry.Value(), &snap); err != nil {
		return Snapshot{}, 0, fmt.Errorf("streams: snapshot %s is not valid: %w", key, err)
	}
	return snap, entry.Revision(), nil
}

// Save stores snap unless the stored snapshot is at the same or a newer
// version, in which case it returns ErrSnapshotStale and changes nothing.
// Concurrent savers race through compare-and-set, so the newest one wins.
func (s *Snapshots) Save(ctx context.Context, snap Snapshot) error {
	key, err := snapshotKey(snap.AggregateType, snap.AggregateID)
	if err != nil {
		return err
	}
	if !json.Valid(snap.State) {
		return fmt.Errorf("streams: snapshot %s: state is not valid JSON", key)
	}
	data, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("streams: encode snapshot %s: %w", key, err)
	}
	for {
		current, rev, err := s.get(ctx, key)
		switch {
		case errors.Is(err, ErrSnapshotNotFound):
			_, err = s.kv.Create(ctx, key, data)
		case err != nil:
			// An unreadable old snapshot is replaced rather than kept forever.
			entry, gerr := s.kv.Get(ctx, key)
			if gerr != nil {
				return err
			}
			_, err = s.kv.Update(ctx, key, data, entry.Revision())
		case current.Version >= snap.Version:
			return fmt.Errorf("%w: %s has version %d, this one %d", ErrSnapshotStale, key, current.Version, snap.Version)
		default:
			_, err = s.kv.Update(ctx, key, data, rev)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongLastSequence(err) {
			return fmt.Errorf("streams: save snapshot %s: %w", key, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func isWrongLastSequence(err error) bool {
	conflict, _, _ := classifyConflict(err)
	return conflict
}
