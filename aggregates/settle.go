package aggregates

import (
	"context"
	"errors"

	"github.com/jetflow/jetflow/streams"
)

// appendSettled appends events after pos, and while the store cannot say
// whether they were stored (streams.ErrOutcomeUnknown: an ack that did
// not come, a leader that did not answer) sends the same events, ids
// included, at the same position again until ctx ends. The store
// recognises its own earlier attempt, so this settles the outcome without
// a second copy: success, or a conflict that the caller retries as any
// other (the events were then not stored).
func (r *Repository[S]) appendSettled(ctx context.Context, id string, pos streams.Position, events []streams.Event) (streams.AppendResult, error) {
	res, err := r.store.Append(ctx, r.typ, id, pos, events...)
	for attempt := 1; ; attempt++ {
		var unknown *streams.OutcomeUnknownError
		if !errors.As(err, &unknown) || ctx.Err() != nil {
			return res, err
		}
		r.opts.log.DebugContext(ctx, "append outcome unknown, sending it again", "aggregate_type", r.typ, "aggregate_id", id, "attempt", attempt, "error", err)
		if err := sleepJitter(ctx, attempt); err != nil {
			return res, unknown
		}
		res, err = r.store.Append(ctx, r.typ, id, unknown.After, unknown.Events...)
	}
}
