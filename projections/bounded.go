package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bounds of the waits a runner or view makes while it starts and stops.
const (
	// defaultStartTimeout bounds Runner.Start when its ctx has no deadline.
	defaultStartTimeout = time.Minute
	// windDown is how long a Start that gives up, or a Stop past its ctx,
	// waits for what it started to end before it returns anyway.
	windDown = 2 * time.Second
)

// bounded returns call's result, or as soon as ctx ends or timeout passes
// an error, even when call itself has not returned. nats.go honours a ctx
// only while it waits for a reply: a call waiting for the connection's
// lock, which its flusher holds while a write to a stuck connection
// blocks (up to FlusherTimeout, a minute by default), or writing itself,
// waits whatever its ctx says. call gets ctx bounded by timeout; a result
// that arrives after the caller gave up is passed to undo (when set), and
// the goroutine making the call ends once nats.go gives it back.
func bounded[T any](ctx context.Context, timeout time.Duration, call func(ctx context.Context) (T, error), undo func(T)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	type result struct {
		v   T
		err error
	}
	out := make(chan result)
	go func() {
		defer cancel()
		v, err := call(cctx)
		select {
		case out <- result{v, err}:
		case <-cctx.Done():
			// Nobody takes it any more (the send only completes with a
			// receive, so the caller has returned the ctx error).
			if err == nil && undo != nil {
				undo(v)
			}
		}
	}()
	select {
	case r := <-out:
		return r.v, r.err
	case <-cctx.Done():
		var zero T
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		return zero, fmt.Errorf("projections: no answer from NATS within %s: %w", timeout, cctx.Err())
	}
}

// boundedDo is bounded for a call without a result.
func boundedDo(ctx context.Context, timeout time.Duration, call func(ctx context.Context) error) error {
	_, err := bounded(ctx, timeout, func(ctx context.Context) (struct{}, error) { return struct{}{}, call(ctx) }, nil)
	return err
}

// watchBounded starts a KV watch bounded by timeout. The watcher lives
// until ctx ends (nats.go ties it to the ctx it was created with), so
// only the wait for it is bounded; one created after the wait gave up is
// stopped.
func watchBounded(ctx context.Context, timeout time.Duration, watch func(ctx context.Context) (jetstream.KeyWatcher, error)) (jetstream.KeyWatcher, error) {
	return bounded(ctx, timeout, func(context.Context) (jetstream.KeyWatcher, error) { return watch(ctx) }, stopWatcherNow)
}

func stopWatcherNow(w jetstream.KeyWatcher) { _ = w.Stop() }

// stopWatcher stops w, created with ctx, without waiting more than
// timeout: stopping unsubscribes and deletes the watch's consumer, calls
// on the connection. Once ctx has ended nats.go stops it by itself.
func stopWatcher(ctx context.Context, w jetstream.KeyWatcher, timeout time.Duration) {
	if ctx.Err() != nil {
		return
	}
	_ = boundedDo(context.Background(), timeout, func(context.Context) error { return w.Stop() })
}
