package streams

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// apiAttemptTimeout bounds one JetStream API call during provisioning. A
// replicated stream that is still electing its leader can leave a request
// unanswered; asking again is what gets an answer.
const apiAttemptTimeout = 5 * time.Second

// retryTransient runs op until it succeeds, fails for a reason asking again
// cannot fix, or ctx ends.
func retryTransient[T any](ctx context.Context, op func(context.Context) (T, error)) (T, error) {
	wait := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, apiAttemptTimeout)
		v, err := op(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !transient(err) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// transient reports errors of a cluster that is forming or electing.
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}
