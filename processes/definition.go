package processes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jetflow/jetflow/streams"
)

// Definition describes a process manager: its name, the events that start
// and move its instances, which instance each event concerns, and what
// happens when a deadline of an instance fires. S is an instance's state,
// stored as JSON: its zero value is the state of a new instance.
type Definition[S any] struct {
	// Name is the manager's stable wire name (bucket proc_<name>,
	// consumers process_<name>): lower-case letters, digits, '_' and '-'.
	Name string
	// AggregateTypes are the aggregate types whose events the manager
	// reads (events.<type>.>); none reads every event. Events of a type
	// no On names are acknowledged and skipped.
	AggregateTypes []string
	// On lists the events handled, one entry per event type.
	On []On[S]
	// Deadlines handles each deadline by name; a handler that sets a
	// deadline must name one of these.
	Deadlines map[string]DeadlineHandler[S]
	// FromStart makes a manager started for the first time read the
	// events stored before it (every order placed so far would start an
	// instance). By default it reads only the events stored after its
	// consumer was created, as a saga deployed on a running system should.
	FromStart bool
}

// On is how a process handles one event type.
type On[S any] struct {
	// Event is the event type, e.g. "order.placed".
	Event string
	// Start lets the event create an instance that does not exist yet.
	// An event that does not start, for an instance that does not exist,
	// is skipped with a log line.
	Start bool
	// Instances says which instances the event concerns (the
	// association); nil means the event's aggregate id (AggregateID).
	// Field reads them from the event's data. One event may concern
	// several instances; none skips it.
	Instances func(ev streams.Event) ([]string, error)
	// Handle decides the instance's next step.
	Handle Handler[S]
}

// Handler decides what an event does to an instance: its new state, the
// commands to send, the deadlines to set or cancel, and whether it ends.
// It must not do I/O with effects (send, publish, write) itself: the
// manager does what it returns once the new state is stored, and a
// handler may run again for the same event after a lost race. Use p.Now,
// not the clock. An error leaves the instance as it was; the event is
// retried with backoff and then dead-lettered.
type Handler[S any] func(ctx context.Context, p Instance[S], ev streams.Event) (Step[S], error)

// DeadlineHandler decides what a deadline that fired does to its instance,
// as Handler does for an event.
type DeadlineHandler[S any] func(ctx context.Context, p Instance[S], d Fired) (Step[S], error)

// Instance is one instance of a process as a handler sees it.
type Instance[S any] struct {
	// Process is the manager's name; ID the instance's id.
	Process, ID string
	// State is the state after the messages handled so far (the zero
	// value for a new instance).
	State S
	// New is true when this message starts the instance.
	New bool
	// Now is the manager's clock at this step: the time to decide with,
	// and what Deadline.After counts from.
	Now time.Time
	// Deadlines are the instance's pending deadlines, soonest first.
	Deadlines []PendingDeadline
	// Steps counts the messages the instance handled before this one.
	Steps int
}

// Deadline returns the pending deadline called name.
func (p Instance[S]) Deadline(name string) (PendingDeadline, bool) {
	for _, d := range p.Deadlines {
		if d.Name == name {
			return d, true
		}
	}
	return PendingDeadline{}, false
}

// Step is a handler's decision.
type Step[S any] struct {
	// State is the instance's new state (return the old one to keep it).
	State S
	// Commands are sent in order over the command service once the state
	// is stored, each with a Jetflow-Command-Id derived from the message
	// handled and its position (CommandID).
	Commands []Command
	// Deadlines are set: one with the name of a pending deadline replaces
	// it.
	Deadlines []Deadline
	// Cancel names pending deadlines to cancel; a name not pending is
	// ignored.
	Cancel []string
	// End finishes the instance: its pending deadlines are cancelled, and
	// later events for it are skipped with a log line.
	End bool
}

// Command is a command a process sends.
type Command struct {
	// Name is "<aggregate type>.<command>", as `jetflow send` names it:
	// "order.cancel" is sent on cmd.order.cancel.
	Name string
	// Body is the command's JSON body: []byte and json.RawMessage as they
	// are, anything else encoded with encoding/json.
	Body any
}

// Deadline is a deadline a process sets.
type Deadline struct {
	// Name names it among the instance's deadlines, and its handler in
	// Definition.Deadlines.
	Name string
	// At is when it fires; when zero, After counts from Instance.Now.
	At    time.Time
	After time.Duration
	// Payload is given to the deadline's handler (Fired.Payload), encoded
	// as a command body is.
	Payload any
}

// PendingDeadline is a deadline set and not yet fired or cancelled.
type PendingDeadline struct {
	Name string `json:"name"`
	// ID is unique to this setting of the deadline.
	ID      string          `json:"id"`
	At      time.Time       `json:"at"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Fired is a deadline that fired, as its handler gets it.
type Fired struct {
	Name, ID string
	// At is when it was due (it runs at that time or a little after).
	At      time.Time
	Payload json.RawMessage
}

// AggregateID is the association of an event with the instance named by
// its aggregate id: an order process of the order's events.
func AggregateID(ev streams.Event) ([]string, error) { return []string{ev.AggregateID}, nil }

// Field is the association of an event with the instances named by a
// field of its JSON data: a dotted path ("order_id", "payment.order") to
// a string, or to an array of strings for an event that concerns several.
// A missing field, or one of another type, is an error naming the event.
func Field(path string) func(ev streams.Event) ([]string, error) {
	parts := strings.Split(path, ".")
	return func(ev streams.Event) ([]string, error) {
		return fieldValues(ev.Data, parts, path, ev.Type)
	}
}

func fieldValues(data []byte, parts []string, path, eventType string) ([]string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %s: data is not JSON: %v", ErrAssociation, eventType, err)
	}
	for _, p := range parts {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %s: no field %q (the data at %q is not an object)", ErrAssociation, eventType, path, p)
		}
		if v, ok = obj[p]; !ok {
			return nil, fmt.Errorf("%w: %s has no field %q", ErrAssociation, eventType, path)
		}
	}
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %s: %s[%d] is %T, want a string", ErrAssociation, eventType, path, i, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s: field %q is %s, want a string or an array of strings", ErrAssociation, eventType, path, jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Validate reports every problem of the definition at once.
func (d *Definition[S]) Validate() error {
	var errs []error
	if err := ValidateName(d.Name); err != nil {
		errs = append(errs, err)
	}
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: process %q: "+format, append([]any{ErrInvalidDefinition, d.Name}, args...)...))
	}
	for _, t := range d.AggregateTypes {
		if err := streams.ValidateAggregateType(t); err != nil {
			add("aggregate type: %v", err)
		}
	}
	if len(d.On) == 0 {
		add("handles no event (On is empty)")
	}
	seen := map[string]bool{}
	starts := false
	for i, on := range d.On {
		switch {
		case on.Event == "" || strings.ContainsAny(on.Event, " \t\r\n"):
			add("On[%d]: event type %q", i, on.Event)
		case seen[on.Event]:
			add("event %q handled twice", on.Event)
		}
		seen[on.Event] = true
		if on.Handle == nil {
			add("event %q has no handler", on.Event)
		}
		starts = starts || on.Start
	}
	if len(d.On) > 0 && !starts {
		add("no event starts an instance (set Start on at least one)")
	}
	names := make([]string, 0, len(d.Deadlines))
	for name, h := range d.Deadlines {
		names = append(names, name)
		if h == nil {
			add("deadline %q has no handler", name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if err := validateDeadlineName(name); err != nil {
			add("%v", err)
		}
	}
	return errors.Join(errs...)
}

// validateDeadlineName: 1–64 letters, digits, '_' and '-'.
func validateDeadlineName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("deadline name %q: 1 to 64 characters", name)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return fmt.Errorf("deadline name %q: character %q not allowed (letters, digits, '_' and '-')", name, rune(c))
		}
	}
	return nil
}

// on returns the entry handling eventType.
func (d *Definition[S]) on(eventType string) (On[S], bool) {
	for _, o := range d.On {
		if o.Event == eventType {
			return o, true
		}
	}
	return On[S]{}, false
}

// instancesOf returns the distinct, valid instance ids ev concerns.
func (o On[S]) instancesOf(ev streams.Event) ([]string, error) {
	assoc := o.Instances
	if assoc == nil {
		assoc = AggregateID
	}
	ids, err := assoc(ev)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if err := ValidateInstanceID(id); err != nil {
			return nil, fmt.Errorf("%w (event %s %s)", err, ev.Type, ev.ID)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// subjects are the event subjects the manager reads.
func (d *Definition[S]) subjects(prefix string) []string {
	if len(d.AggregateTypes) == 0 {
		return []string{prefix + ".>"}
	}
	out := make([]string, len(d.AggregateTypes))
	for i, t := range d.AggregateTypes {
		out[i] = prefix + "." + t + ".>"
	}
	return out
}
