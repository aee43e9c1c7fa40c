package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Admin is what operators do to projections, directly against JetStream:
// report, skip, resume and rebuild. Running runners pick the requests up
// from the meta bucket.
type Admin struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	cfg   Config
	meta  *metaStore
	owner string
}

// NewAdmin opens (creating when missing) the meta bucket.
func NewAdmin(ctx context.Context, nc *nats.Conn, cfg Config, opts ...Option) (*Admin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.apply(opts).withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	meta, err := openMeta(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	return &Admin{nc: nc, js: js, cfg: cfg, meta: meta, owner: newOwnerID()}, nil
}

// Report is a projection as operators see it.
type Report struct {
	Meta    Meta              `json:"meta"`
	Active  GenerationReport  `json:"active"`
	Rebuild *GenerationReport `json:"rebuild,omitempty"`
}

// GenerationReport is one generation: what its runner last reported and
// what the server says about its consumer.
type GenerationReport struct {
	Generation
	// Status is the runner's last report; nil when it never ran.
	Status *Status `json:"status,omitempty"`
	// ConsumerExists is false before the generation first ran.
	ConsumerExists bool `json:"consumer_exists"`
	// AckFloor is the stream sequence of the checkpoint.
	AckFloor uint64 `json:"ack_floor"`
	// Pending counts the events not applied yet (undelivered and unacked).
	Pending uint64 `json:"pending"`
	// LeaseHolder names the process running it ("" when none).
	LeaseHolder string `json:"lease_holder,omitempty"`
}

// Names lists the projections that have a meta record.
func (a *Admin) Names(ctx context.Context) ([]string, error) {
	keys, err := a.meta.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections: list meta bucket: %w", err)
	}
	var names []string
	for k := range keys.Keys() {
		if !strings.Contains(k, ".") {
			names = append(names, k)
		}
	}
	if err := keys.Stop(); err != nil && !errors.Is(err, nats.ErrBadSubscription) {
		a.cfg.logger.Debug("stop key lister", "error", err)
	}
	slices.Sort(names)
	return names, nil
}

// Report describes one projection.
func (a *Admin) Report(ctx context.Context, name string) (Report, error) {
	meta, _, err := a.meta.load(ctx, name)
	if err != nil {
		return Report{}, err
	}
	r := Report{Meta: meta, Active: a.generationReport(ctx, name, meta.Active)}
	if meta.Rebuild != nil {
		g := a.generationReport(ctx, name, *meta.Rebuild)
		r.Rebuild = &g
	}
	return r, nil
}

func (a *Admin) generationReport(ctx context.Context, name string, g Generation) GenerationReport {
	out := GenerationReport{Generation: g}
	if s, ok, err := a.meta.loadStatus(ctx, name, g.Number); err == nil && ok {
		out.Status = &s
	}
	if c, err := a.js.Consumer(ctx, a.cfg.Streams.EventStream, g.Consumer); err == nil {
		info := c.CachedInfo()
		out.ConsumerExists = true
		out.AckFloor = info.AckFloor.Stream
		out.Pending = info.NumPending + uint64(info.NumAckPending)
	}
	if e, err := a.meta.get(ctx, leaseKey(name, g.Number)); err == nil {
		out.LeaseHolder = string(e.Value())
	}
	return out
}

// Skip asks the projection to skip the event at stream sequence seq
// without applying it (the runner acks it and logs it). It is only for
// the event a generation of the projection is failed at (the active one
// or a rebuild's), and holds for that generation alone: any other
// sequence is refused with a *SkipRefusedError naming the event the
// projection is failed at, if any.
func (a *Admin) Skip(ctx context.Context, name string, seq uint64) (Meta, error) {
	if seq == 0 {
		return Meta{}, fmt.Errorf("%w: sequence must be 1 or more", ErrInvalidConfig)
	}
	return a.meta.update(ctx, name, func(m *Meta) error {
		gen, err := a.failedAt(ctx, *m, seq)
		if err != nil {
			return err
		}
		if !m.skips(gen, seq) {
			m.Skips = append(m.Skips, SkipRequest{Generation: gen, Sequence: seq, At: time.Now().UTC()})
		}
		return nil
	})
}

// failedAt returns the generation of m (the active one, then a rebuild's)
// whose last status is failed at event seq.
func (a *Admin) failedAt(ctx context.Context, m Meta, seq uint64) (int, error) {
	refused := &SkipRefusedError{Projection: m.Name, Sequence: seq}
	gens := []Generation{m.Active}
	if m.Rebuild != nil {
		gens = append(gens, *m.Rebuild)
	}
	for _, g := range gens {
		s, ok, err := a.meta.loadStatus(ctx, m.Name, g.Number)
		if err != nil {
			return 0, fmt.Errorf("projections: read the status of %s generation %d: %w", m.Name, g.Number, err)
		}
		if !ok {
			continue
		}
		if g.Number == m.Active.Number {
			refused.State, refused.LastApplied = s.State, s.LastApplied
		}
		if s.State != StateFailed || s.Failure == nil {
			continue
		}
		if s.Failure.Sequence == seq {
			return g.Number, nil
		}
		if refused.FailedAt == 0 {
			refused.FailedAt, refused.FailedGeneration, refused.Rebuild = s.Failure.Sequence, g.Number, g.Number != m.Active.Number
		}
	}
	// The status is stored every StatusInterval; the consumer's ack floor
	// says where a running projection stands now.
	if c, err := a.js.Consumer(ctx, a.cfg.Streams.EventStream, m.Active.Consumer); err == nil {
		refused.LastApplied = max(refused.LastApplied, c.CachedInfo().AckFloor.Stream)
	}
	return 0, refused
}

// Resume asks a failed projection to retry the event it failed at.
func (a *Admin) Resume(ctx context.Context, name string) (Meta, error) {
	return a.meta.update(ctx, name, func(m *Meta) error {
		m.Resume++
		return nil
	})
}

// Ensure creates the projection's meta record when missing, so operators
// can act on a projection before any runner ran it.
func (a *Admin) Ensure(ctx context.Context, p Projection) (Meta, error) {
	if err := p.Validate(); err != nil {
		return Meta{}, err
	}
	return a.meta.ensure(ctx, p)
}
