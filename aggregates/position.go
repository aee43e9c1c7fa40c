package aggregates

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jetflow/jetflow/streams"
)

// ErrUnknownAggregateType is returned by Service.Position for an aggregate
// type that no command registered on the service serves.
var ErrUnknownAggregateType = errors.New("aggregates: no command of the service serves this aggregate type")

// positioner is a Repository seen without its state type.
type positioner interface {
	position(ctx context.Context, id string) (streams.Position, error)
	state(ctx context.Context, id string) (State, streams.Position, error)
}

func (r *Repository[S]) state(ctx context.Context, id string) (State, streams.Position, error) {
	inst, err := r.Load(ctx, id)
	if err != nil {
		return nil, streams.Position{}, err
	}
	return inst.State, inst.Position, nil
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

// State loads aggregate id of aggregateType as Position does and returns
// its state (the aggregate's own type, which marshals to JSON as its
// snapshots do) with where it stands; a state never changed by an event,
// at the zero Position, when the aggregate does not exist. It serves code
// that shows an aggregate knowing its type only by name, such as the web
// console. Call it once the commands are registered.
func (s *Service) State(ctx context.Context, aggregateType, id string) (State, streams.Position, error) {
	repo, ok := s.repos[aggregateType]
	if !ok {
		return nil, streams.Position{}, fmt.Errorf("%w: %q", ErrUnknownAggregateType, aggregateType)
	}
	return repo.state(ctx, id)
}

// Commands lists the commands registered on the service as
// "<aggregate type>.<command>" (what `jetflow send` and client.Send name
// them), sorted.
func (s *Service) Commands() []string {
	out := make([]string, 0, len(s.commands))
	out = append(out, s.commands...)
	slices.Sort(out)
	return out
}
