package aggregates

import "time"

// Metrics receives what the write side does; the Prometheus exporter
// implements it. Implementations must be safe for concurrent use.
type Metrics interface {
	CommandHandled(aggregateType, command, result string, took time.Duration)
	AppendConflict(aggregateType string)
	EventsAppended(aggregateType string, n int)
	SnapshotTaken(aggregateType string)
}

type nopMetrics struct{}

func (nopMetrics) CommandHandled(string, string, string, time.Duration) {}
func (nopMetrics) AppendConflict(string)                                {}
func (nopMetrics) EventsAppended(string, int)                           {}
func (nopMetrics) SnapshotTaken(string)                                 {}
