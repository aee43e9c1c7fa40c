package userbench

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/bench"
	"github.com/jetflow/jetflow/internal/platform"
)

// usersBenchDomain lets `jetflow bench` drive the reference User domain.
type usersBenchDomain struct{}

func (usersBenchDomain) StartCommands(p *platform.Platform, log *slog.Logger) (func(context.Context) error, error) {
	repo, err := users.NewRepository(p.Store, p.Snapshots, aggregates.WithLogger(log))
	if err != nil {
		return nil, err
	}
	svc, err := aggregates.NewService(p.Conn, aggregates.ServiceConfig{}, aggregates.WithLogger(log))
	if err != nil {
		return nil, err
	}
	if err := users.RegisterCommands(svc, repo); err != nil {
		return nil, err
	}
	if err := svc.Start(); err != nil {
		return nil, err
	}
	return svc.Stop, nil
}

func (usersBenchDomain) Create(i int) (string, []byte) {
	return "cmd.user.create", fmt.Appendf(nil, `{"username":"user_%d","email":"user%d@example.com"}`, i, i)
}

func (usersBenchDomain) Update(id string, i int) (string, []byte) {
	return "cmd.user.update", fmt.Appendf(nil, `{"id":%q,"email":"u%d@example.org"}`, id, i)
}

func (usersBenchDomain) Loader(p *platform.Platform) (func(context.Context, string) (uint64, error), error) {
	repo, err := users.NewRepository(p.Store, p.Snapshots)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, id string) (uint64, error) {
		inst, err := repo.Load(ctx, id)
		if err != nil {
			return 0, err
		}
		return inst.Position.Version, nil
	}, nil
}

func init() { bench.RegisterDomain(usersBenchDomain{}) }
