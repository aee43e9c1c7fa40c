package userbench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/bench"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// The users read model, for the projection and query scenarios of
// `jetflow bench` (bench.ReadDomain).

func (usersBenchDomain) Projection(cfg streams.Config) projections.Projection {
	return users.Projection(cfg)
}

var benchStatuses = []string{users.StatusInactive, users.StatusSuspended, users.StatusActive}

// SeedEvent: user u is created, then alternately updated and moved to
// another status.
func (usersBenchDomain) SeedEvent(u, n int) bench.SeedEvent {
	id := fmt.Sprintf("bench-%06d", u)
	ev := bench.SeedEvent{AggregateType: users.AggregateType, AggregateID: id}
	var data any
	switch {
	case n == 0:
		ev.Type, data = users.EventCreated, users.Created{ID: id, Username: fmt.Sprintf("user_%06d", u), Email: id + "@example.com"}
	case n%2 == 1:
		email := fmt.Sprintf("%s-%d@example.org", id, n)
		ev.Type, data = users.EventUpdated, users.Updated{Email: &email}
	default:
		ev.Type, data = users.EventStatusChanged, users.StatusChanged{Status: benchStatuses[(u+n)%3]}
	}
	ev.Data, _ = json.Marshal(data)
	return ev
}

func (usersBenchDomain) StartQueries(ctx context.Context, nc *nats.Conn, cfg projections.Config, log *slog.Logger) (func(context.Context) error, error) {
	view, err := users.NewView(nc, cfg, projections.WithLogger(log))
	if err != nil {
		return nil, err
	}
	if err := view.Start(ctx); err != nil {
		view.Stop()
		return nil, err
	}
	svc, err := projections.NewQueryService(nc, projections.QueryConfig{}, projections.WithLogger(log))
	if err == nil {
		err = users.RegisterQueries(svc, view)
	}
	if err == nil {
		err = svc.Start()
	}
	if err != nil {
		view.Stop()
		return nil, err
	}
	return func(ctx context.Context) error {
		err := svc.Stop(ctx)
		view.Stop()
		return err
	}, nil
}

func (usersBenchDomain) Get(id string, minSequence uint64) (string, []byte) {
	return "query.users.get", fmt.Appendf(nil, `{"id":%q,"min_sequence":%d}`, id, minSequence)
}

func (usersBenchDomain) List(page, variant int) (string, []byte) {
	statuses := []string{"", users.StatusActive, users.StatusInactive, users.StatusSuspended}
	return "query.users.list", fmt.Appendf(nil, `{"page":%d,"per_page":20,"status":%q}`, page, statuses[variant%len(statuses)])
}

func (usersBenchDomain) RecordKey(id string) string { return projections.Key(id) }
