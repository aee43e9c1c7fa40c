package projections

import (
	"sync"
	"time"
)

// State is where a projection's runner stands.
type State string

// States of a projection.
const (
	// StateStarting: taking the lease, provisioning, resetting the consumer.
	StateStarting State = "starting"
	// StateStandby: another process holds the lease and runs it.
	StateStandby State = "standby"
	// StateRunning: following the stream.
	StateRunning State = "running"
	// StateRetrying: a transient error (NATS, a write) stopped the
	// pipeline; it restarts from the checkpoint after a backoff.
	StateRetrying State = "retrying"
	// StateFailed: the handler kept failing on one event; waiting for an
	// operator to skip it or resume.
	StateFailed State = "failed"
	// StateRebuilding: a rebuild is filling this generation.
	StateRebuilding State = "rebuilding"
	// StateStopped: not running.
	StateStopped State = "stopped"
)

// Status is what a runner reports about one projection generation. It is
// stored in the meta bucket (key <name>.status.g<gen>) every
// StatusInterval and on every state change.
type Status struct {
	Projection string `json:"projection"`
	Generation int    `json:"generation"`
	Bucket     string `json:"bucket"`
	Consumer   string `json:"consumer"`
	State      State  `json:"state"`
	Owner      string `json:"owner,omitempty"`
	// LastApplied is the stream sequence of the last event applied and
	// acked: the checkpoint.
	LastApplied uint64 `json:"last_applied"`
	// Lag is how many events of the projection's subjects are not applied yet.
	Lag uint64 `json:"lag"`
	// Rate is events applied per second, averaged over the last seconds.
	Rate float64 `json:"rate"`
	// Events counts the events this generation has processed.
	Events uint64 `json:"events"`
	// Skipped lists events skipped on an operator's request.
	Skipped []uint64 `json:"skipped,omitempty"`
	// Failure names the event the projection stopped at (state failed).
	Failure *Failure `json:"failure,omitempty"`
	// Error is the last transient error (state retrying).
	Error     string    `json:"error,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// tracker holds a generation's live status; the pipeline writes it, status
// readers copy it.
type tracker struct {
	mu      sync.Mutex
	s       Status
	changed chan struct{} // signalled on state changes, so they are published at once
	// rate window
	lastEvents uint64
	lastAt     time.Time
}

func newTracker(s Status) *tracker {
	return &tracker{s: s, changed: make(chan struct{}, 1), lastAt: time.Now()}
}

// resume continues the counters of a generation's previous run, so the
// events count goes on and the rate does not count them as new.
func (t *tracker) resume(prev Status) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.s.Events, t.s.LastApplied, t.lastEvents = prev.Events, prev.LastApplied, prev.Events
}

func (t *tracker) snapshot() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.s
	s.Skipped = append([]uint64(nil), t.s.Skipped...)
	if t.s.Failure != nil {
		f := *t.s.Failure
		s.Failure = &f
	}
	return s
}

func (t *tracker) setState(st State, failure *Failure, errText string) {
	t.mu.Lock()
	t.s.State, t.s.Failure, t.s.Error = st, failure, errText
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

func (t *tracker) applied(n int, last, lag uint64) {
	t.mu.Lock()
	t.s.Events += uint64(n)
	if last > t.s.LastApplied {
		t.s.LastApplied = last
	}
	t.s.Lag = lag
	t.mu.Unlock()
}

func (t *tracker) skipped(seq uint64) {
	t.mu.Lock()
	t.s.Skipped = append(t.s.Skipped, seq)
	if len(t.s.Skipped) > 100 {
		t.s.Skipped = t.s.Skipped[len(t.s.Skipped)-100:]
	}
	t.mu.Unlock()
}

func (t *tracker) setLag(lag uint64) {
	t.mu.Lock()
	t.s.Lag = lag
	t.mu.Unlock()
}

// tick updates the rate (an exponential average over ~5 ticks) and returns
// the status to publish.
func (t *tracker) tick(now time.Time) Status {
	t.mu.Lock()
	if dt := now.Sub(t.lastAt).Seconds(); dt > 0 {
		inst := float64(t.s.Events-t.lastEvents) / dt
		t.s.Rate = 0.6*t.s.Rate + 0.4*inst
		if t.s.Rate < 0.01 {
			t.s.Rate = 0
		}
	}
	t.lastEvents, t.lastAt = t.s.Events, now
	t.s.UpdatedAt = now.UTC()
	t.mu.Unlock()
	return t.snapshot()
}
