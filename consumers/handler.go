package consumers

import "context"

// Handler processes one message. A nil error acknowledges it; an error
// retries it with the subscription's backoff until MaxRetries is spent, then
// dead-letters it; an error wrapped with Permanent dead-letters it at once.
// ctx is cancelled when the worker must stop before the handler finished.
type Handler func(ctx context.Context, m *Message) error

// Middleware wraps a handler, e.g. with logging, timeouts or metrics.
type Middleware func(Handler) Handler

// Chain wraps h with mws, the first middleware outermost:
// Chain(h, a, b) calls a, then b, then h.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
