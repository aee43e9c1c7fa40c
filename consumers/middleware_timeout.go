package consumers

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Timeout bounds each handler call by d: the handler's ctx ends after d and
// a handler that returns because of it yields a retryable error saying so.
// Handlers must honour ctx for this to bound anything.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) error {
			tctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			err := next(tctx, m)
			// Only our own deadline is a timeout; a stopping worker is not.
			if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return fmt.Errorf("handler timed out after %s: %w", d, err)
			}
			return err
		}
	}
}
