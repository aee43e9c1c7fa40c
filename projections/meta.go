package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
)

// Generation is one build of a read model: its bucket and the durable
// consumer that feeds it. A rebuild makes the next generation.
type Generation struct {
	Number    int       `json:"number"`
	Bucket    string    `json:"bucket"`
	Consumer  string    `json:"consumer"`
	StartedAt time.Time `json:"started_at"`
}

// Meta is a projection's record in the meta bucket (key = its name): which
// generation queries read, the rebuild in progress, and operator requests.
// Every runner and view watches it.
type Meta struct {
	Name     string   `json:"name"`
	Subjects []string `json:"subjects"`
	// Active is the generation queries read and the runner keeps current.
	Active Generation `json:"active"`
	// Rebuild is the generation being built, when a rebuild runs or was interrupted.
	Rebuild *Generation `json:"rebuild,omitempty"`
	// Retired generations are switched away from and not yet removed.
	Retired []Generation `json:"retired,omitempty"`
	// Skips are the events operators asked to skip, each for the
	// generation that failed at it: a rebuilt generation does not inherit
	// them. (The "skip" list of earlier versions, sequences for every
	// generation, is ignored and dropped at the next change.)
	Skips []SkipRequest `json:"skips,omitempty"`
	// Resume is bumped by each resume request.
	Resume     uint64    `json:"resume,omitempty"`
	SwitchedAt time.Time `json:"switched_at,omitzero"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// SkipRequest asks generation Generation to skip the event at stream
// sequence Sequence, the one it failed at.
type SkipRequest struct {
	Generation int       `json:"generation"`
	Sequence   uint64    `json:"sequence"`
	At         time.Time `json:"at"`
}

// skips reports whether generation gen is to skip the event at seq.
func (m *Meta) skips(gen int, seq uint64) bool {
	return slices.ContainsFunc(m.Skips, func(s SkipRequest) bool { return s.Generation == gen && s.Sequence == seq })
}

// skipsFor lists the sequences generation gen is to skip.
func (m *Meta) skipsFor(gen int) []uint64 {
	var out []uint64
	for _, s := range m.Skips {
		if s.Generation == gen {
			out = append(out, s.Sequence)
		}
	}
	return out
}

// dropSkips removes the skip requests of the generations keep rejects.
func (m *Meta) dropSkips(keep func(gen int) bool) {
	m.Skips = slices.DeleteFunc(m.Skips, func(s SkipRequest) bool { return !keep(s.Generation) })
	if len(m.Skips) == 0 {
		m.Skips = nil
	}
}

// generation names generation n of projection p.
func (c Config) generation(p Projection, n int) Generation {
	g := Generation{Number: n, Consumer: c.ConsumerPrefix + p.Name + "_g" + strconv.Itoa(n), Bucket: c.BucketPrefix + p.Name}
	if p.Bucket != "" {
		g.Bucket = p.Bucket
	}
	if n > 1 {
		g.Bucket += "_g" + strconv.Itoa(n)
	}
	return g
}

// Keys of the meta bucket besides <name>.
func statusKey(name string, gen int) string { return name + ".status.g" + strconv.Itoa(gen) }
func leaseKey(name string, gen int) string  { return name + ".lease.g" + strconv.Itoa(gen) }

// metaStore reads and changes Meta records with compare-and-set.
type metaStore struct {
	kv  jetstream.KeyValue
	js  jetstream.JetStream
	cfg Config
}

// MetaBucketConfig is the definition of the meta bucket. Per-key TTLs (for
// leases) need LimitMarkerTTL. History stays 1: with more, the server
// raises every per-message TTL to at least LimitMarkerTTL, and a lease
// must expire after its own TTL.
func (c Config) MetaBucketConfig() jetstream.KeyValueConfig {
	c = c.withDefaults()
	return jetstream.KeyValueConfig{
		Bucket:         c.MetaBucket,
		Description:    "jetflow projections: active generation, operator requests, status and leases",
		History:        1,
		Storage:        c.storage(),
		Replicas:       c.Streams.Replicas,
		LimitMarkerTTL: time.Second,
	}
}

func openMeta(ctx context.Context, js jetstream.JetStream, cfg Config) (*metaStore, error) {
	kv, err := bounded(ctx, defaultStartTimeout, func(ctx context.Context) (jetstream.KeyValue, error) {
		return streams.EnsureKeyValue(ctx, js, cfg.MetaBucketConfig())
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("projections: meta bucket: %w", err)
	}
	return &metaStore{kv: kv, js: js, cfg: cfg}, nil
}

// load returns the projection's meta record and its revision.
func (m *metaStore) load(ctx context.Context, name string) (Meta, uint64, error) {
	if !validName(name) {
		// Other keys of the bucket (status, leases) must not be read or
		// rewritten as a meta record.
		return Meta{}, 0, fmt.Errorf("%w: %q is not a projection name (a-z, 0-9, '_' and '-')", ErrInvalidProjection, name)
	}
	e, err := m.get(ctx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return Meta{}, 0, fmt.Errorf("%w %q: no meta record (it is created when the projection first runs)", ErrUnknownProjection, name)
		}
		return Meta{}, 0, fmt.Errorf("projections: read meta of %s: %w", name, err)
	}
	var meta Meta
	if err := json.Unmarshal(e.Value(), &meta); err != nil {
		return Meta{}, 0, fmt.Errorf("projections: meta of %s is not valid: %w", name, err)
	}
	return meta, e.Revision(), nil
}

// ensure returns the meta record, creating it at generation 1 when missing.
func (m *metaStore) ensure(ctx context.Context, p Projection) (Meta, error) {
	meta, _, err := m.load(ctx, p.Name)
	// A meta bucket just made on a cluster may not answer reads for a
	// moment (no responders on its direct get).
	for wait := 50 * time.Millisecond; errors.Is(err, nats.ErrNoResponders) && wait <= 2*time.Second; wait *= 2 {
		sleep(ctx, wait)
		meta, _, err = m.load(ctx, p.Name)
	}
	if err == nil {
		return meta, nil
	}
	if !errors.Is(err, ErrUnknownProjection) {
		return Meta{}, err
	}
	now := time.Now().UTC()
	meta = Meta{Name: p.Name, Subjects: p.Subjects, Active: m.cfg.generation(p, 1), UpdatedAt: now}
	meta.Active.StartedAt = now
	b, _ := json.Marshal(meta)
	if _, err := bounded(ctx, m.cfg.WriteTimeout, func(ctx context.Context) (uint64, error) { return m.kv.Create(ctx, p.Name, b) }, nil); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			meta, _, err = m.load(ctx, p.Name)
			return meta, err
		}
		return Meta{}, fmt.Errorf("projections: create meta of %s: %w", p.Name, err)
	}
	return meta, nil
}

// update applies fn to the current record and stores it with
// compare-and-set, retrying when someone else changed it in between.
func (m *metaStore) update(ctx context.Context, name string, fn func(*Meta) error) (Meta, error) {
	for {
		meta, rev, err := m.load(ctx, name)
		if err != nil {
			return Meta{}, err
		}
		if err := fn(&meta); err != nil {
			return Meta{}, err
		}
		meta.UpdatedAt = time.Now().UTC()
		b, _ := json.Marshal(meta)
		_, err = bounded(ctx, m.cfg.WriteTimeout, func(ctx context.Context) (uint64, error) { return m.kv.Update(ctx, name, b, rev) }, nil)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue
		}
		if err != nil {
			return Meta{}, fmt.Errorf("projections: update meta of %s: %w", name, err)
		}
		return meta, nil
	}
}

// watch yields every new version of the projection's meta record, the
// current one first.
func (m *metaStore) watch(ctx context.Context, name string) (<-chan Meta, error) {
	w, err := watchBounded(ctx, m.cfg.WriteTimeout, func(ctx context.Context) (jetstream.KeyWatcher, error) { return m.kv.Watch(ctx, name) })
	if err != nil {
		return nil, fmt.Errorf("projections: watch meta of %s: %w", name, err)
	}
	out := make(chan Meta, 1)
	go func() {
		defer close(out)
		defer stopWatcher(ctx, w, m.cfg.WriteTimeout)
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil || e.Operation() != jetstream.KeyValuePut {
					continue
				}
				var meta Meta
				if err := json.Unmarshal(e.Value(), &meta); err != nil {
					m.cfg.logger.Warn("ignoring invalid projection meta record", "projection", name, "error", err)
					continue
				}
				// Only the latest matters: replace what the reader has not taken yet.
				select {
				case <-out:
				default:
				}
				out <- meta
			}
		}
	}()
	return out, nil
}

// putStatus stores a status record; failures only lose one report.
func (m *metaStore) putStatus(ctx context.Context, s Status) {
	b, _ := json.Marshal(s)
	if _, err := bounded(ctx, m.cfg.WriteTimeout, func(ctx context.Context) (uint64, error) {
		return m.kv.Put(ctx, statusKey(s.Projection, s.Generation), b)
	}, nil); err != nil {
		m.cfg.logger.Debug("projection status not stored", "projection", s.Projection, "error", err)
	}
}

// loadStatus returns the last status a runner stored for a generation.
func (m *metaStore) loadStatus(ctx context.Context, name string, gen int) (Status, bool, error) {
	e, err := m.get(ctx, statusKey(name, gen))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Status{}, false, nil
	}
	if err != nil {
		return Status{}, false, err
	}
	var s Status
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return Status{}, false, err
	}
	return s, true, nil
}

// get reads one key of the meta bucket, bounded by WriteTimeout.
func (m *metaStore) get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	return bounded(ctx, m.cfg.WriteTimeout, func(ctx context.Context) (jetstream.KeyValueEntry, error) { return m.kv.Get(ctx, key) }, nil)
}
