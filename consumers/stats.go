package consumers

import (
	"sync/atomic"
	"time"
)

// Outcome is what the worker did with a message.
type Outcome string

// The outcomes a worker reports.
const (
	OutcomeAcked        Outcome = "acked"         // handled successfully
	OutcomeRetried      Outcome = "retried"       // handler failed; delayed nak
	OutcomeDeadLettered Outcome = "dead_lettered" // terminated: permanent error or retries spent
	OutcomeFiltered     Outcome = "filtered"      // a payload filter rejected it; acked
	OutcomeExpired      Outcome = "expired"       // past its TTL; acked unhandled
	OutcomeSkipped      Outcome = "skipped"       // a replay meant for another subscription; acked
	OutcomeReturned     Outcome = "returned"      // nak'd unhandled because the worker stopped
)

// Metrics receives what workers do; the Prometheus adapter of package
// metrics implements it. Implementations must be safe for concurrent use.
type Metrics interface {
	// ObserveHandler reports one handler call: its duration and its
	// error (nil when it succeeded). subscription is the message's
	// (Message.Subscription).
	ObserveHandler(subscription string, d time.Duration, err error)
	// ObserveOutcome reports what the worker did with a message, labelled
	// with the subscription's name.
	ObserveOutcome(subscription string, o Outcome)
}

// Stats counts a worker's outcomes since it started.
type Stats struct {
	Acked, Retried, DeadLettered, Filtered, Expired, Skipped, Returned uint64
	// Cancelled counts copies of cancelled schedules, acked unhandled.
	Cancelled uint64
}

type counters struct {
	acked, retried, deadLettered, filtered, expired, skipped, returned atomic.Uint64
	cancelled                                                          atomic.Uint64
}

func (c *counters) add(o Outcome) {
	switch o {
	case OutcomeAcked:
		c.acked.Add(1)
	case OutcomeRetried:
		c.retried.Add(1)
	case OutcomeDeadLettered:
		c.deadLettered.Add(1)
	case OutcomeFiltered:
		c.filtered.Add(1)
	case OutcomeExpired:
		c.expired.Add(1)
	case OutcomeSkipped:
		c.skipped.Add(1)
	case OutcomeReturned:
		c.returned.Add(1)
	case OutcomeCancelled:
		c.cancelled.Add(1)
	}
}

func (c *counters) snapshot() Stats {
	return Stats{
		Acked:        c.acked.Load(),
		Retried:      c.retried.Load(),
		DeadLettered: c.deadLettered.Load(),
		Filtered:     c.filtered.Load(),
		Expired:      c.expired.Load(),
		Skipped:      c.skipped.Load(),
		Returned:     c.returned.Load(),
		Cancelled:    c.cancelled.Load(),
	}
}
