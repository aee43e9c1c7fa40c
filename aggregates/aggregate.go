package aggregates

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jetflow/jetflow/streams"
)

// State is what an aggregate author writes: the aggregate's state, evolved
// one event at a time. Apply must accept every event type the aggregate
// ever wrote (after upcasting) and must not do I/O. The repository tracks
// the aggregate's id, version and last sequence; the state does not need to.
// States are snapshotted as JSON, so exported fields (or MarshalJSON and
// UnmarshalJSON) must carry everything Apply builds.
type State interface {
	Apply(ev streams.Event) error
}

// Change is one new event decided by a command: its stable type name
// ("user.created") and its data, marshalled to JSON.
type Change struct {
	Type   string
	Data   any
	Schema int // event schema version; 0 means 1
}

var (
	// ErrValidation marks invalid command input (400).
	ErrValidation = errors.New("invalid command")
	// ErrNotFound marks a command on an aggregate that does not exist (404).
	ErrNotFound = errors.New("aggregate not found")
	// ErrRuleViolated marks a command the aggregate's rules refuse (409).
	ErrRuleViolated = errors.New("rule violated")
	// ErrVersionMismatch is returned when the client's expected version is not the aggregate's (409).
	ErrVersionMismatch = errors.New("expected version does not match")
	// ErrAlreadyApplied is returned for a resent command whose events are
	// stored but whose result the aggregate no longer remembers (409).
	ErrAlreadyApplied = errors.New("command already applied")
)

// DomainError is a refusal with a message meant for the client.
type DomainError struct {
	Kind    error // ErrValidation, ErrNotFound or ErrRuleViolated
	Message string
}

func (e *DomainError) Error() string { return e.Message }
func (e *DomainError) Unwrap() error { return e.Kind }

// Invalid returns a validation error (400) with a message naming the problem.
func Invalid(format string, args ...any) error {
	return &DomainError{Kind: ErrValidation, Message: fmt.Sprintf(format, args...)}
}

// NotFound returns a not-found error (404).
func NotFound(format string, args ...any) error {
	return &DomainError{Kind: ErrNotFound, Message: fmt.Sprintf(format, args...)}
}

// Refused returns a rule violation (409).
func Refused(format string, args ...any) error {
	return &DomainError{Kind: ErrRuleViolated, Message: fmt.Sprintf(format, args...)}
}

// toEvents marshals changes into event envelopes.
func toEvents(changes []Change, meta streams.Metadata) ([]streams.Event, error) {
	events := make([]streams.Event, len(changes))
	for i, c := range changes {
		data, err := json.Marshal(c.Data)
		if err != nil {
			return nil, fmt.Errorf("aggregates: encode %s: %w", c.Type, err)
		}
		events[i] = streams.Event{Type: c.Type, Data: data, Schema: c.Schema, Metadata: meta}
	}
	return events, nil
}
