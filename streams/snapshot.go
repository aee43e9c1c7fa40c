package streams

import (
	"context"
	"encoding/base64"
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

// Snapshots stores snapshots in a KV bucket under SnapshotKey.
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

// SnapshotKey is the KV key of an aggregate's snapshot: <type>.<id>, or
// <type>.b64.<id as unpadded base64url> when the id has characters a KV key
// cannot hold (anything but letters, digits and - / _ =), such as "user:42"
// or "café". The two forms cannot collide: neither type nor id contains a
// '.', so a plain key has two tokens and an encoded one three. A type with
// such characters is refused: types are the program's constants.
func SnapshotKey(aggregateType, aggregateID string) (string, error) {
	if err := errors.Join(ValidateAggregateType(aggregateType), ValidateAggregateID(aggregateID)); err != nil {
		return "", err
	}
	if !kvKeySafe(aggregateType) {
		return "", fmt.Errorf("%w %q: a snapshot key allows only letters, digits and - / _ =", ErrInvalidAggregateType, aggregateType)
	}
	if kvKeySafe(aggregateID) {
		return aggregateType + "." + aggregateID, nil
	}
	return aggregateType + ".b64." + base64.RawURLEncoding.EncodeToString([]byte(aggregateID)), nil
}

// kvKeySafe reports whether s may stand in a KV key, '.' aside.
func kvKeySafe(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '/', c == '_', c == '=':
		default:
			return false
		}
	}
	return true
}

// Load returns the aggregate's snapshot, or ErrSnapshotNotFound.
func (s *Snapshots) Load(ctx context.Context, aggregateType, aggregateID string) (Snapshot, error) {
	key, err := SnapshotKey(aggregateType, aggregateID)
	if err != nil {
		return Snapshot{}, err
	}
	entry, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Snapshot{}, fmt.Errorf("%w: %s", ErrSnapshotNotFound, key)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("streams: load snapshot %s: %w", key, err)
	}
	var snap Snapshot
	if err := json.Unmarshal(entry.Value(), &snap); err != nil {
		return Snapshot{}, fmt.Errorf("streams: snapshot %s is not valid: %w", key, err)
	}
	return snap, nil
}

// Save stores snap unless the stored snapshot is at the same or a newer
// version, in which case it returns ErrSnapshotStale and changes nothing.
// Concurrent savers race through compare-and-set, so the newest one wins.
func (s *Snapshots) Save(ctx context.Context, snap Snapshot) error {
	return s.save(ctx, snap, false)
}

// Refresh is Save that also replaces a snapshot of the same version: the
// aggregate's state is the same, what its state records besides (such as
// the results of commands that wrote nothing) may have grown. A newer
// snapshot is never replaced (ErrSnapshotStale).
func (s *Snapshots) Refresh(ctx context.Context, snap Snapshot) error {
	return s.save(ctx, snap, true)
}

// EncodeSnapshot checks snap and returns the key and the bytes it is
// stored under, as Save stores it: a snapshot store of one's own (an
// in-memory one for tests) keeps the same rules with it.
func EncodeSnapshot(snap Snapshot) (key string, data []byte, err error) {
	if key, err = SnapshotKey(snap.AggregateType, snap.AggregateID); err != nil {
		return "", nil, err
	}
	if !json.Valid(snap.State) {
		return "", nil, fmt.Errorf("streams: snapshot %s: state is not valid JSON", key)
	}
	if data, err = json.Marshal(snap); err != nil {
		return "", nil, fmt.Errorf("streams: encode snapshot %s: %w", key, err)
	}
	return key, data, nil
}

func (s *Snapshots) save(ctx context.Context, snap Snapshot, sameVersion bool) error {
	key, data, err := EncodeSnapshot(snap)
	if err != nil {
		return err
	}
	for {
		entry, err := s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = s.kv.Create(ctx, key, data)
		case err != nil:
			// A snapshot that could not be read may be newer than this one.
			return fmt.Errorf("streams: save snapshot %s: read the stored one: %w", key, err)
		default:
			var current Snapshot
			if json.Unmarshal(entry.Value(), &current) == nil &&
				(current.Version > snap.Version || current.Version == snap.Version && !sameVersion) {
				return fmt.Errorf("%w: %s has version %d, this one %d", ErrSnapshotStale, key, current.Version, snap.Version)
			}
			// A stored value that does not decode is replaced rather than
			// kept forever. The update names the revision just judged, so
			// a snapshot saved since fails it and is judged in turn.
			_, err = s.kv.Update(ctx, key, data, entry.Revision())
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongLastSequence(err) {
			return fmt.Errorf("streams: save snapshot %s: %w", key, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("streams: save snapshot %s: %w", key, ctx.Err())
		}
	}
}

func isWrongLastSequence(err error) bool {
	conflict, _, _ := classifyConflict(err)
	return conflict
}
