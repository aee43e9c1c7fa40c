package bench

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// ErrNoReadDomain is returned by the read-side scenarios when the domain
// has no read model.
var ErrNoReadDomain = errors.New("bench: this scenario needs a domain with a read model (Options.Domain implementing ReadDomain)")

// ReadDomain is a Domain with a read model: what the projection and query
// scenarios drive.
type ReadDomain interface {
	Domain
	// Projection is the read model over the event store cfg describes.
	Projection(cfg streams.Config) projections.Projection
	// SeedEvent is event n (0-based) of entity u, as the domain's
	// aggregates write it; event 0 creates the entity.
	SeedEvent(u, n int) (SeedEvent, error)
	// RecordKey is the key in the read model's bucket of entity u's record.
	RecordKey(u int) (string, error)
	// StartQueries serves the read model's queries on nc (which must reach
	// the projection's bucket) until stop is called.
	StartQueries(ctx context.Context, nc *nats.Conn, cfg projections.Config, log *slog.Logger) (stop func(context.Context) error, err error)
	// Get is the query of one entity; minSequence > 0 asks to read the write at that sequence.
	Get(id string, minSequence uint64) (subject string, body []byte)
	// List is page of the list; variant picks a filter (0: none).
	List(page, variant int) (subject string, body []byte)
}

// SeedEvent is one event the scenarios write straight to the stream.
type SeedEvent struct {
	AggregateType, AggregateID, Type string
	Data                             []byte
}

func readDomain(env *Env) (ReadDomain, error) {
	d, ok := env.Domain.(ReadDomain)
	if !ok {
		return nil, ErrNoReadDomain
	}
	return d, nil
}
