package processes

import "time"

// Metrics receives what process managers do, labelled with the manager's
// name; the Prometheus adapter of package metrics implements it.
// Implementations must be safe for concurrent use.
type Metrics interface {
	// ProcessStarted counts instances started.
	ProcessStarted(process string)
	// ProcessHandled reports one message handled (kind "event" or
	// "deadline"): state stored and effects done.
	ProcessHandled(process, kind string, took time.Duration)
	// ProcessEnded counts instances that ended.
	ProcessEnded(process string)
	// ProcessFailed counts failed attempts: a handler's error or panic, an
	// invalid step, a command not delivered. The message is retried, then
	// dead-lettered.
	ProcessFailed(process string)
	// DeadlineFired counts deadlines handled.
	DeadlineFired(process string)
	// StateConflict counts compare-and-set writes another writer won; the
	// message is decided again on the new state.
	StateConflict(process string)
	// MessageSkipped counts messages that did nothing, by reason
	// (ReasonDuplicate, ReasonNotStarted, ReasonEnded, ReasonStale).
	MessageSkipped(process, reason string)
}

type nopMetrics struct{}

func (nopMetrics) ProcessStarted(string)                        {}
func (nopMetrics) ProcessHandled(string, string, time.Duration) {}
func (nopMetrics) ProcessEnded(string)                          {}
func (nopMetrics) ProcessFailed(string)                         {}
func (nopMetrics) DeadlineFired(string)                         {}
func (nopMetrics) StateConflict(string)                         {}
func (nopMetrics) MessageSkipped(string, string)                {}
