package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/bench"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// BenchWorkload is how `jetflow bench` drives the domain's registered
// aggregate and read model; jetflow.BenchWorkload documents each field.
type BenchWorkload struct {
	Aggregate string
	Create    func(i int) (command string, body []byte)
	Update    func(id string, i int) (command string, body []byte)
	ReadModel string
	Seed      func(entity, n int) (aggregateID, eventType string, data any)
	Get       func(id string, minSequence uint64) (query string, body []byte)
	List      func(page, variant int) (query string, body []byte)
}

// validateBench reports every part of d's bench workload that is missing or
// names a part d does not register.
func (d *Domain) validateBench() error {
	if d == nil || d.Bench == nil {
		return nil
	}
	w := d.Bench
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: bench workload: "+format, append([]any{ErrInvalidDomain}, args...)...))
	}
	switch _, ok := d.aggregateNamed(w.Aggregate); {
	case w.Aggregate == "":
		bad("names no aggregate")
	case !ok:
		bad("aggregate %q is not registered (registered: %v)", w.Aggregate, d.aggregateTypes())
	}
	if w.Create == nil || w.Update == nil {
		bad("Create and Update are required")
	}
	if w.ReadModel == "" {
		if w.Seed != nil || w.Get != nil || w.List != nil {
			bad("Seed, Get and List drive a read model, and ReadModel names none")
		}
		return errors.Join(errs...)
	}
	switch rm, ok := d.readModelNamed(w.ReadModel); {
	case !ok:
		bad("read model %q is not registered (registered: %v)", w.ReadModel, d.readModelNames())
	case rm.NewView == nil:
		bad("read model %q answers no queries (registered as a projection only)", w.ReadModel)
	}
	if w.Seed == nil || w.Get == nil || w.List == nil {
		bad("read model %q needs Seed, Get and List", w.ReadModel)
	}
	return errors.Join(errs...)
}

func (d *Domain) aggregateNamed(typ string) (Aggregate, bool) {
	for _, a := range d.aggregates() {
		if a.Type == typ {
			return a, true
		}
	}
	return Aggregate{}, false
}

func (d *Domain) aggregateTypes() []string {
	types := []string{}
	for _, a := range d.aggregates() {
		types = append(types, a.Type)
	}
	return types
}

func (d *Domain) readModelNames() []string {
	names := []string{}
	if d != nil {
		for _, r := range d.ReadModels {
			names = append(names, r.Name)
		}
	}
	return names
}

// benchDomain is what `jetflow bench` drives: nil without a workload, a
// bench.ReadDomain when the workload names a read model.
func (d *Domain) benchDomain() (bench.Domain, error) {
	if d == nil || d.Bench == nil {
		return nil, nil
	}
	if err := d.validateBench(); err != nil {
		return nil, err
	}
	w := *d.Bench
	agg, _ := d.aggregateNamed(w.Aggregate)
	// The bench runs on the default configuration, as serve would run
	// without a jetflow.tsk.
	cfg := config.Default()
	wd := &workloadDomain{w: w, agg: agg, cfg: cfg,
		commands: subjects{base: cfg.Commands.SubjectPrefix + "." + w.Aggregate + "."}}
	if w.ReadModel == "" {
		return wd, nil
	}
	rm, _ := d.readModelNamed(w.ReadModel)
	return &workloadReadDomain{workloadDomain: wd, rm: rm, keys: rm.Projection(streams.DefaultConfig()),
		queries: subjects{base: cfg.Queries.SubjectPrefix + "." + w.ReadModel + "."}}, nil
}

// workloadDomain drives the registered aggregate with the workload.
type workloadDomain struct {
	w        BenchWorkload
	agg      Aggregate
	cfg      config.Config
	commands subjects
}

func (d *workloadDomain) AggregateType() string { return d.w.Aggregate }

// StartCommands serves the aggregate's commands as serve's
// newCommandService builds them (serve_domain.go): the same service
// settings and repository options, less metrics, which the bench has never
// measured.
func (d *workloadDomain) StartCommands(ctx context.Context, p *platform.Platform, log *slog.Logger) (bench.Commands, error) {
	cc := d.cfg.Commands
	svc, err := aggregates.NewService(p.Conn, aggregates.ServiceConfig{
		Name: cc.Service, SubjectPrefix: cc.SubjectPrefix, MaxPayload: cc.MaxPayload, Timeout: cc.Timeout,
	}, aggregates.WithLogger(log))
	if err != nil {
		return nil, err
	}
	opts := []aggregates.RepositoryOption{
		aggregates.WithSnapshotEvery(d.cfg.Snapshots.Every), aggregates.WithCacheSize(cc.CacheSize),
		aggregates.WithConflictRetries(cc.ConflictRetries), aggregates.WithLogger(log),
	}
	if err := d.agg.Register(svc, p.Store, p.Snapshots, opts); err != nil {
		return nil, fmt.Errorf("aggregate %s: %w", d.agg.Type, err)
	}
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	return workloadCommands{svc: svc, typ: d.w.Aggregate}, nil
}

func (d *workloadDomain) Create(i int) (string, []byte) {
	name, body := d.w.Create(i)
	return d.commands.of(name), body
}

func (d *workloadDomain) Update(id string, i int) (string, []byte) {
	name, body := d.w.Update(id, i)
	return d.commands.of(name), body
}

// workloadCommands is the running command service; it loads with the
// repository its commands were registered with.
type workloadCommands struct {
	svc *aggregates.Service
	typ string
}

func (c workloadCommands) Load(ctx context.Context, id string) (uint64, error) {
	pos, err := c.svc.Position(ctx, c.typ, id)
	return pos.Version, err
}

func (c workloadCommands) Stop(ctx context.Context) error { return c.svc.Stop(ctx) }

// workloadReadDomain adds the registered read model: its projection, and
// its view and queries as serve's newReadSide builds them (readside.go).
type workloadReadDomain struct {
	*workloadDomain
	rm ReadModel
	// keys is the projection whose handler names records' keys.
	keys    projections.Projection
	queries subjects
}

func (d *workloadReadDomain) Projection(cfg streams.Config) projections.Projection {
	return d.rm.Projection(cfg)
}

func (d *workloadReadDomain) SeedEvent(u, n int) (bench.SeedEvent, error) {
	id, typ, data := d.w.Seed(u, n)
	b, err := json.Marshal(data)
	if err != nil {
		return bench.SeedEvent{}, fmt.Errorf("bench workload: Seed(%d, %d) %s: %w", u, n, typ, err)
	}
	return bench.SeedEvent{AggregateType: d.w.Aggregate, AggregateID: id, Type: typ, Data: b}, nil
}

func (d *workloadReadDomain) RecordKey(u int) (string, error) {
	ev, err := d.SeedEvent(u, 0)
	if err != nil {
		return "", err
	}
	key, err := d.keys.Handler.Key(streams.Event{
		Type: ev.Type, AggregateType: ev.AggregateType, AggregateID: ev.AggregateID, Version: 1, Schema: 1, Data: ev.Data,
	})
	if err == nil && key == "" {
		err = fmt.Errorf("bench workload: read model %s keeps no record of %s %s (Seed(%d, 0), %s)", d.rm.Name, ev.AggregateType, ev.AggregateID, u, ev.Type)
	}
	return key, err
}

func (d *workloadReadDomain) StartQueries(ctx context.Context, nc *nats.Conn, cfg projections.Config, log *slog.Logger) (func(context.Context) error, error) {
	obs := []projections.Option{projections.WithLogger(log)}
	view, err := d.rm.NewView(nc, cfg, d.rm.Projection(cfg.Streams), obs...)
	if err != nil {
		return nil, err
	}
	if err = view.Start(ctx); err == nil {
		err = view.WaitLoaded(ctx)
	}
	if err != nil {
		_ = view.Stop(ctx)
		return nil, err
	}
	qc := d.cfg.Queries
	svc, err := projections.NewQueryService(nc, projections.QueryConfig{Name: qc.Service, SubjectPrefix: qc.SubjectPrefix, Timeout: qc.Timeout}, obs...)
	if err == nil {
		err = view.RegisterQueries(svc)
	}
	if err == nil {
		err = svc.Start(ctx)
	}
	if err != nil {
		_ = view.Stop(ctx)
		return nil, fmt.Errorf("read model %s: %w", d.rm.Name, err)
	}
	return func(ctx context.Context) error {
		return errors.Join(svc.Stop(ctx), view.Stop(ctx))
	}, nil
}

func (d *workloadReadDomain) Get(id string, minSequence uint64) (string, []byte) {
	name, body := d.w.Get(id, minSequence)
	return d.queries.of(name), body
}

func (d *workloadReadDomain) List(page, variant int) (string, []byte) {
	name, body := d.w.List(page, variant)
	return d.queries.of(name), body
}

// subjects are the subjects of a workload's command or query names,
// built once per name: the scenarios' loops allocate no more than they
// did with constant subjects.
type subjects struct {
	base string // "<prefix>.<aggregate type or read model>."
	m    sync.Map
}

func (s *subjects) of(name string) string {
	if v, ok := s.m.Load(name); ok {
		return v.(string)
	}
	v, _ := s.m.LoadOrStore(name, s.base+name)
	return v.(string)
}
