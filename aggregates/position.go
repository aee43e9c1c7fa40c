package aggregates

import (
	"context"
	"errors"
	"fmt"

	"github.com/jetflow/jetflow/streams"
)

// ErrUnknownAggregateType is returned by Service.Position for an aggregate
// type that no command registered on the service serves.
var ErrUnknownAggregateType = errors.New("aggregates: no command of the service serves this aggregate type")

// positioner is a Repository seen without its state type.
type positioner interface {
	position(ctx context.Context, id string) (streams.Position, error)
}

func (r *Repository[S]) position(ctx context.Context, id string) (streams.Position, error) {
	inst, err := r.Load(ctx, id)
	if err != nil {
		return streams.Position{}, err
	}
	return inst.Position, nil
}

// Position loads aggregate id of aggregateType with the repository its
// commands were registered with (Repository.Load: the latest snapshot,
// then the events stored after it, bypassing the cache) and returns where
// it stands: the zero Position when it does not exist. It serves code that
// knows an aggregate type only by its name, such as `jetflow bench`,
// which times it. Call it once the commands are registered.
func (s *Service) Position(ctx context.Context, aggregateType, id string) (streams.Position, error) {
	repo, ok := s.repos[aggregateType]
	if !ok {
		return streams.Position{}, fmt.Errorf("%w: %q", ErrUnknownAggregateType, aggregateType)
	}
	return repo.position(ctx, id)
}
