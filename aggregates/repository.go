package aggregates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/jetflow/jetflow/streams"
)

// Defaults of the repository's policies.
const (
	DefaultSnapshotEvery   = 10
	DefaultCacheSize       = 10000
	DefaultConflictRetries = 10
)

// Repository loads and saves aggregates of one type.
type Repository[S State] struct {
	typ      string
	newState func() S
	store    EventStore
	snaps    SnapshotStore
	opts     repoOptions
	cache    *cache[S]
}

// NewRepository returns the repository of aggregateType. newState returns
// the zero state of a new aggregate. snaps may be nil to disable snapshots.
func NewRepository[S State](aggregateType string, newState func() S, store EventStore, snaps SnapshotStore, opts ...RepositoryOption) (*Repository[S], error) {
	if err := streams.ValidateAggregateType(aggregateType); err != nil {
		return nil, err
	}
	if isNil(store) || newState == nil {
		return nil, fmt.Errorf("aggregates: repository of %s needs an event store and a state constructor", aggregateType)
	}
	if isNil(snaps) {
		snaps = nil // a nil pointer in the interface would not compare nil
	}
	o := repoOptions{
		snapshotEvery: DefaultSnapshotEvery, snapshotSchema: 1, cacheSize: DefaultCacheSize,
		conflictRetries: DefaultConflictRetries, log: slog.New(slog.DiscardHandler), metrics: nopMetrics{},
	}
	for _, opt := range opts {
		opt.applyRepository(&o)
	}
	if o.conflictRetries < 0 {
		return nil, fmt.Errorf("aggregates: conflict retries %d must not be negative", o.conflictRetries)
	}
	return &Repository[S]{typ: aggregateType, newState: newState, store: store, snaps: snaps, opts: o, cache: newCache[S](o.cacheSize)}, nil
}

// Type is the aggregate type the repository serves.
func (r *Repository[S]) Type() string { return r.typ }

// snapshotBody is what the repository keeps in a snapshot's state: the
// aggregate's state and the command results needed for idempotent resends.
type snapshotBody[S State] struct {
	State  S               `json:"state"`
	Recent []CommandResult `json:"recent,omitempty"`
}

// Load reads the aggregate from its latest snapshot and the events after
// it, bypassing the cache. A missing aggregate loads with version 0.
func (r *Repository[S]) Load(ctx context.Context, id string) (*Instance[S], error) {
	if err := streams.ValidateAggregateID(id); err != nil {
		return nil, err
	}
	inst := &Instance[S]{ID: id, State: r.newState()}
	if r.snaps != nil {
		snap, err := r.snaps.Load(ctx, r.typ, id)
		switch {
		case errors.Is(err, streams.ErrSnapshotNotFound):
		case err != nil:
			r.opts.log.WarnContext(ctx, "snapshot unreadable, replaying in full", "aggregate_type", r.typ, "aggregate_id", id, "error", err)
		case snap.Schema != r.opts.snapshotSchema:
			r.opts.log.DebugContext(ctx, "snapshot of another schema ignored", "aggregate_type", r.typ, "aggregate_id", id, "schema", snap.Schema)
		default:
			body := snapshotBody[S]{State: r.newState()}
			if err := json.Unmarshal(snap.State, &body); err != nil {
				r.opts.log.WarnContext(ctx, "snapshot does not decode, replaying in full", "aggregate_type", r.typ, "aggregate_id", id, "error", err)
				break
			}
			inst.State, inst.recent = body.State, body.Recent
			inst.Position = streams.Position{Sequence: snap.Sequence, Version: snap.Version}
		}
	}
	if _, err := r.catchUp(ctx, inst); err != nil {
		return nil, err
	}
	return inst, nil
}

// catchUp applies the events stored after the instance's position and
// reports whether there were any. On an error the instance is left
// part-way and must be dropped.
func (r *Repository[S]) catchUp(ctx context.Context, inst *Instance[S]) (moved bool, err error) {
	for ev, err := range r.store.Load(ctx, r.typ, inst.ID, inst.Position.Sequence) {
		if err != nil {
			return moved, fmt.Errorf("aggregates: load %s %s: %w", r.typ, inst.ID, err)
		}
		if err := inst.apply(ev); err != nil {
			return moved, fmt.Errorf("aggregates: apply %s (version %d) to %s %s: %w", ev.Type, ev.Version, r.typ, inst.ID, err)
		}
		moved = true
	}
	return moved, nil
}

// snapshot saves the instance's state; a failure is logged, never returned,
// because the events are already stored and the next load replays them.
// refresh replaces a snapshot of the same version (see Snapshots.Refresh).
func (r *Repository[S]) snapshot(ctx context.Context, inst *Instance[S], refresh bool) {
	state, err := json.Marshal(snapshotBody[S]{State: inst.State, Recent: inst.recent})
	if err == nil {
		snap := streams.Snapshot{
			AggregateType: r.typ, AggregateID: inst.ID, Version: inst.Position.Version,
			Sequence: inst.Position.Sequence, Schema: r.opts.snapshotSchema, State: state,
		}
		if refresh {
			err = r.snaps.Refresh(ctx, snap)
		} else {
			err = r.snaps.Save(ctx, snap)
		}
	}
	switch {
	case err == nil:
		r.opts.metrics.SnapshotTaken(r.typ)
	case errors.Is(err, streams.ErrSnapshotStale):
	default:
		r.opts.log.WarnContext(ctx, "snapshot not saved", "aggregate_type", r.typ, "aggregate_id", inst.ID, "version", inst.Position.Version, "error", err)
	}
}

func (r *Repository[S]) snapshotDue(before, after uint64) bool {
	n := uint64(r.opts.snapshotEvery)
	return r.snaps != nil && n > 0 && before/n != after/n
}

// isNil reports whether v is nil or holds a nil pointer: "no snapshots"
// is often passed as a typed nil (a *streams.Snapshots never made).
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}
