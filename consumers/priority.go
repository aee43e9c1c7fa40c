package consumers

import (
	"fmt"
)

// Priority orders delivery when a subscription has a backlog: critical before
// high before normal before low. The zero value is PriorityNormal.
type Priority int8

// The four priorities. Each is a subject token (topic.<name>.<priority>…), so
// the server can keep one consumer per priority and the worker drains the
// higher ones first; JetStream cannot filter on headers.
const (
	PriorityLow      Priority = -1
	PriorityNormal   Priority = 0
	PriorityHigh     Priority = 1
	PriorityCritical Priority = 2
)

// priorities lists every priority from the highest down; the index is the
// level the worker schedules by (0 = most urgent).
var priorities = [...]Priority{PriorityCritical, PriorityHigh, PriorityNormal, PriorityLow}

const numLevels = len(priorities)

// level is p's scheduling index: 0 for critical … 3 for low.
func (p Priority) level() int { return int(PriorityCritical - p) }

// String returns the wire token: low, normal, high or critical.
func (p Priority) String() string {
	switch p {
	case PriorityLow:
		return "low"
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	case PriorityCritical:
		return "critical"
	}
	return fmt.Sprintf("priority(%d)", int8(p))
}

// Valid reports whether p is one of the four priorities.
func (p Priority) Valid() bool { return p >= PriorityLow && p <= PriorityCritical }

// ParsePriority parses low, normal, high or critical; "" is normal.
func ParsePriority(s string) (Priority, error) {
	switch s {
	case "low":
		return PriorityLow, nil
	case "", "normal":
		return PriorityNormal, nil
	case "high":
		return PriorityHigh, nil
	case "critical":
		return PriorityCritical, nil
	}
	return 0, fmt.Errorf("%w %q: want low, normal, high or critical", ErrInvalidPriority, s)
}

// MarshalText writes the wire token.
func (p Priority) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("%w %d", ErrInvalidPriority, int8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses the wire token.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
