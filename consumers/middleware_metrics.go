package consumers

import (
	"context"
	"time"
)

// HandlerObserver receives every handler call's duration and result; a
// Prometheus histogram or counter adapter implements it.
type HandlerObserver interface {
	ObserveHandler(subscription string, d time.Duration, err error)
}

// HandlerObserverFunc adapts a function to HandlerObserver.
type HandlerObserverFunc func(subscription string, d time.Duration, err error)

// ObserveHandler calls f.
func (f HandlerObserverFunc) ObserveHandler(subscription string, d time.Duration, err error) {
	f(subscription, d, err)
}

// Metrics reports every handler call to obs. What the worker does with the
// message afterwards (ack, retry, dead letter, filtered, expired) is
// reported by WorkerObserver instead.
func Metrics(obs HandlerObserver) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) error {
			start := time.Now()
			err := next(ctx, m)
			obs.ObserveHandler(m.Subscription(), time.Since(start), err)
			return err
		}
	}
}
