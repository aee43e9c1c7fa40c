package chaos

import (
	"slices"
	"sync"
	"time"

	"github.com/jetflow/jetflow/wire"
)

// Outcome is what a client learnt about a command or a publish.
type Outcome int

const (
	// Pending: not answered yet.
	Pending Outcome = iota
	// Acked: a success reply (first run or duplicate) or a publish ack.
	Acked
	// Refused: a definite error reply (4xx): nothing was to be written.
	Refused
	// Unknown: every attempt timed out or got 503/504, or no service
	// answered: it may or may not have been applied.
	Unknown
	// AppliedEarlier: a resend answered 409 "this Jetflow-Command-Id was
	// applied earlier; its result is no longer remembered": applied, but
	// without the first reply (no version or sequence to check).
	AppliedEarlier
)

func (o Outcome) String() string {
	switch o {
	case Acked:
		return "acked"
	case Refused:
		return "refused"
	case Unknown:
		return "unknown"
	case AppliedEarlier:
		return "applied earlier"
	}
	return "pending"
}

// Command is one command as a client sent it: its Jetflow-Command-Id (also
// its correlation id, which its events carry) and what came back.
type Command struct {
	ID        string
	Name      string // "user.create"
	Aggregate string
	Body      []byte
	// Expected is the Jetflow-Expected-Version it was sent with (racers).
	Expected *uint64
	// Pair links the two commands of a race (0: not racing).
	Pair int

	Outcome  Outcome
	Reply    wire.CommandReply // when acked
	Status   int               // when refused
	Message  string            // when refused
	Attempts int

	// Settled is what a resend after the faults got, for a command whose
	// outcome was unknown; SettleReply its reply when acked.
	Settled     Outcome
	SettleReply wire.CommandReply
	SettleMsg   string
}

// acked reports whether a client got a success reply for it, during the
// faults or when settling.
func (c *Command) acked() (wire.CommandReply, bool) {
	switch {
	case c.Outcome == Acked:
		return c.Reply, true
	case c.Settled == Acked:
		return c.SettleReply, true
	}
	return wire.CommandReply{}, false
}

// Publish is one message published to the topic.
type Publish struct {
	ID       string
	Outcome  Outcome
	Attempts int
	// Settled is what a republish with the same message id got, for an
	// unknown one; StoredBefore says its ack was a duplicate (it had
	// been stored).
	Settled      Outcome
	StoredBefore bool
}

// History is everything the workload of one phase sent and got back.
type History struct {
	mu        sync.Mutex
	commands  []*Command
	publishes []*Publish
	successes []time.Time // when each success reply came
	pairs     int
	attempts  map[string]int // failed attempts by cause
}

func newHistory() *History { return &History{attempts: map[string]int{}} }

func (h *History) addCommand(c *Command) {
	h.mu.Lock()
	h.commands = append(h.commands, c)
	h.mu.Unlock()
}

func (h *History) addPublish(p *Publish) {
	h.mu.Lock()
	h.publishes = append(h.publishes, p)
	h.mu.Unlock()
}

func (h *History) success(at time.Time) {
	h.mu.Lock()
	h.successes = append(h.successes, at)
	h.mu.Unlock()
}

func (h *History) failedAttempt(cause string) {
	h.mu.Lock()
	h.attempts[cause]++
	h.mu.Unlock()
}

func (h *History) newPair() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pairs++
	return h.pairs
}

// Commands returns the commands sent, in the order they were started.
func (h *History) Commands() []*Command {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.commands)
}

// Publishes returns the messages published.
func (h *History) Publishes() []*Publish {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.publishes)
}

// longestOutage is the longest time within [from, to] without a success
// reply, the edges included.
func (h *History) longestOutage(from, to time.Time) time.Duration {
	h.mu.Lock()
	times := slices.Clone(h.successes)
	h.mu.Unlock()
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	longest, last := time.Duration(0), from
	for _, t := range times {
		if t.Before(from) || t.After(to) {
			continue
		}
		longest = max(longest, t.Sub(last))
		last = t
	}
	return max(longest, to.Sub(last))
}
