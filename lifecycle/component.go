package lifecycle

import (
	"context"
	"errors"
	"sync"
)

// Component is a long-running part of a system.
//
//   - Start starts it and returns once it does its job (ctx bounds the
//     start, not the component's life).
//   - Stop stops it, letting work in flight finish until ctx ends, and
//     releases what it holds; it may be called after it ended on its own.
//   - Done is closed once it has ended: stopped by Stop, or failed.
//   - Err says why it ended on its own; nil while it runs and after a Stop
//     that was not preceded by a failure.
type Component interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Done() <-chan struct{}
	Err() error
}

// ErrEnded is the Err of a component that ended on its own without saying
// why (a function that returned nil before it was asked to stop).
var ErrEnded = errors.New("lifecycle: ended on its own")

// Ending records how a component ended; a component holds one and
// delegates its Done and Err to it. The zero value is ready to use.
type Ending struct {
	once sync.Once
	mu   sync.Mutex
	done chan struct{}
	err  error
}

func (e *Ending) ch() chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done == nil {
		e.done = make(chan struct{})
	}
	return e.done
}

// Done is closed once Fail or Stopped was called.
func (e *Ending) Done() <-chan struct{} { return e.ch() }

// Err is the error of the first Fail, or nil.
func (e *Ending) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Fail ends the component with err (ErrEnded when nil), unless it has
// ended already; it reports whether this call ended it.
func (e *Ending) Fail(err error) bool {
	if err == nil {
		err = ErrEnded
	}
	return e.end(err)
}

// Stopped ends the component after a Stop, unless it has ended already.
func (e *Ending) Stopped() { e.end(nil) }

func (e *Ending) end(err error) bool {
	ch := e.ch()
	ended := false
	e.once.Do(func() {
		e.mu.Lock()
		e.err = err
		e.mu.Unlock()
		close(ch)
		ended = true
	})
	return ended
}

// Func adapts run, a function that works until its context ends, into a
// Component: Start calls it in a goroutine, Stop cancels its context and
// waits for it to return (until Stop's ctx ends). When run returns before
// it is asked to stop, the component has ended on its own: Err is run's
// error, or ErrEnded.
func Func(run func(ctx context.Context) error) Component { return &funcComponent{run: run} }

type funcComponent struct {
	run func(ctx context.Context) error
	Ending
	mu       sync.Mutex
	cancel   context.CancelFunc
	returned chan struct{}
	stopping bool
}

func (f *funcComponent) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.returned != nil {
		return errors.New("lifecycle: started twice")
	}
	// The function lives until Stop, not until the start's context ends;
	// it keeps the context's values.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel, f.returned = cancel, make(chan struct{})
	go func() {
		defer close(f.returned)
		err := f.run(rctx)
		f.mu.Lock()
		stopping := f.stopping
		f.mu.Unlock()
		if !stopping {
			f.Fail(err)
		}
	}()
	return nil
}

func (f *funcComponent) Stop(ctx context.Context) error {
	f.mu.Lock()
	if f.returned == nil {
		f.mu.Unlock()
		f.Stopped()
		return nil
	}
	f.stopping = true
	f.mu.Unlock()
	f.cancel()
	select {
	case <-f.returned:
		f.Stopped()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
