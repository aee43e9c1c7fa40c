package projections

import "time"

// Metrics receives what the read side does: the runner's projections and
// the query service. The Prometheus adapter of package metrics implements
// it. Implementations must be safe for concurrent use.
type Metrics interface {
	// EventsApplied counts events whose writes were confirmed and acked.
	EventsApplied(projection string, n int)
	// EventsSkipped counts events not applied: "already_applied" (at or
	// below their record's sequence) or "operator" (skipped on request).
	EventsSkipped(projection, reason string, n int)
	// HandlerFailed counts failed attempts of a handler.
	HandlerFailed(projection, eventType string)
	// BatchConfirmed reports one batch of writes from send to confirmation.
	BatchConfirmed(projection string, writes int, took time.Duration)
	// Lag reports the events not yet applied.
	Lag(projection string, pending uint64)
	// StateChanged reports a projection's new state.
	StateChanged(projection string, state State)
	// QueryHandled reports one query answered: result is "ok" or the
	// error code of its reply.
	QueryHandled(readModel, query, result string, took time.Duration)
}

type nopMetrics struct{}

func (nopMetrics) EventsApplied(string, int)                          {}
func (nopMetrics) EventsSkipped(string, string, int)                  {}
func (nopMetrics) HandlerFailed(string, string)                       {}
func (nopMetrics) BatchConfirmed(string, int, time.Duration)          {}
func (nopMetrics) Lag(string, uint64)                                 {}
func (nopMetrics) StateChanged(string, State)                         {}
func (nopMetrics) QueryHandled(string, string, string, time.Duration) {}
