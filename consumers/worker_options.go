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
	logger  *slog.Logger
	metrics Metrics
	dlq     *DLQConfig
	grace   time.Duration
	now     func() time.Time
	update  bool
}

// WorkerOption configures a Worker.
type WorkerOption func(*workerOptions)

// WithLogger sets the worker's logger (default: discard).
func WithLogger(l *slog.Logger) WorkerOption {
	return func(o *workerOptions) { o.logger = l }
}

// WithMetrics reports every handler call and every message's outcome to m
// (default: none), e.g. the Prometheus adapter of package metrics.
func WithMetrics(m Metrics) WorkerOption {
	return func(o *workerOptions) { o.metrics = m }
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

// WithSubscriptionUpdate lets Start (and EnsureSubscription) change a
// subscription whose stored consumers differ from its definition (see
// Subscription for which fields count). Without it such a start is refused
// with a *SubscriptionMismatchError (ErrSubscriptionChanged) and nothing
// changes. With it, the update is still refused, with ErrSubscriptionInUse,
// while other workers are attached to the consumers (their waiting pull
// requests show it): stop them first, or two definitions take turns. Every
// update is logged at Warn with each changed setting.
//
// A changed filter does not move the consumer: as JetStream does, it keeps
// its position (the stream sequence it has delivered up to, logged with
// the update). Messages before that position that match only the new filter
// are never delivered, and messages after it that match only the old
// filter are not delivered either; messages that were published while a
// filter was changed and match only the original are skipped for good,
// even once the filter is changed back. To read the new filter's history,
// create a subscription with another name instead.
func WithSubscriptionUpdate() WorkerOption {
	return func(o *workerOptions) { o.update = true }
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
