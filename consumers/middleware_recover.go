package consumers

import (
	"context"
	"runtime/debug"
)

// Recover turns a handler's panic into a *PanicError (errors.Is ErrPanic).
// It is an ordinary, retryable error: a handler that keeps panicking is
// dead-lettered after its retries, with the panic as the reason. The worker
// always recovers as its outermost layer; place Recover explicitly to let
// inner middleware (logging, metrics) see the panic as an error.
func Recover() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = &PanicError{Value: v, Stack: debug.Stack()}
				}
			}()
			return next(ctx, m)
		}
	}
}
