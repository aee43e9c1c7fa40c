package consumers

import (
	"log/slog"
	"time"
)

// Worker defaults.
const (
	// DefaultShutdownGrace is how long Run lets in-flight and buffered
	// messages finish after its context ends before returning the rest.
	DefaultShutdownGrace = 30 * time.Second
	// startupClaimWindow bounds how long lower priorities wait at start for
	// a more urgent backlog to arrive (one pull round trip, normally).
	startupClaimWindow = time.Second
	// claimWindow bounds how long lower priorities wait for the next message
	// of a more urgent level that reported more pending.
	claimWindow = 50 * time.Millisecond
)

type workerOptions struct {
	logger   *slog.Logger
	observer WorkerObserver
	dlq      *DLQConfig
	grace    time.Duration
	now      func() time.Time
}

// WorkerOption configures a Worker.
type WorkerOption func(*workerOptions)

// WithLogger sets the worker's logger (default: discard).
func WithLogger(l *slog.Logger) WorkerOption {
	return func(o *workerOptions) { o.logger = l }
}

// WithObserver reports every message outcome to obs (metrics).
func WithObserver(obs WorkerObserver) WorkerOption {
	return func(o *workerOptions) { o.observer = obs }
}

// WithDLQ sets the dead-letter stream Start makes sure exists (default:
// DefaultDLQConfig). An existing stream is left as it is.
func WithDLQ(cfg DLQConfig) WorkerOption {
	return func(o *workerOptions) { o.dlq = &cfg }
}

// WithoutDLQ makes Start leave the dead-letter stream alone, for
// deployments that provision it separately (or deny stream creation).
func WithoutDLQ() WorkerOption {
	return func(o *workerOptions) { o.dlq = nil }
}

// WithShutdownGrace sets how long Run waits for in-flight and buffered
// messages after its context ends (default 30s).
func WithShutdownGrace(d time.Duration) WorkerOption {
	return func(o *workerOptions) { o.grace = d }
}

// WithClock sets the clock that judges message expiry (tests).
func WithClock(now func() time.Time) WorkerOption {
	return func(o *workerOptions) { o.now = now }
}

func defaultWorkerOptions() workerOptions {
	d := DefaultDLQConfig()
	return workerOptions{
		logger: slog.New(slog.DiscardHandler),
		dlq:    &d,
		grace:  DefaultShutdownGrace,
		now:    time.Now,
	}
}
