package processes

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jetflow/jetflow/streams"
)

// DefaultHistory is how many handled messages an instance record keeps.
const DefaultHistory = 32

// Simulation runs a Definition in memory, with a clock of its own and no
// server: what a Manager decides for each event and deadline, with the
// commands it would send and the deadlines it would set. It is what the
// test kit's process fixture (jetflowtest.GivenProcess) is built on, and
// it serves any test that wants to drive a process step by step.
type Simulation[S any] struct {
	def     Definition[S]
	now     time.Time
	records map[string]*Record
}

// Outcome is what one message did to one instance.
type Outcome struct {
	Instance string
	// Message says what was handled: "event order.placed" or "deadline
	// payment_due".
	Message string
	// Skipped is why the message did nothing (ReasonNotStarted,
	// ReasonEnded, ReasonStale, ReasonDuplicate), "" when it was handled.
	Skipped string
	Started bool
	Ended   bool
	// Commands are the commands sent, in order, with their ids.
	Commands []SentCommand
	// Set are the deadlines set; Cancelled the names of those cancelled
	// (an End cancels every pending one).
	Set       []PendingDeadline
	Cancelled []string
}

// SentCommand is a command as a manager sends it.
type SentCommand struct {
	// ID is its Jetflow-Command-Id (CommandID).
	ID   string
	Name string
	Body json.RawMessage
}

// View is an instance as a Simulation holds it.
type View[S any] struct {
	ID        string
	Status    string
	State     S
	Deadlines []PendingDeadline
	Steps     int
	Handled   []Handled
}

// NewSimulation returns a simulation of def whose clock starts at start.
func NewSimulation[S any](def Definition[S], start time.Time) (*Simulation[S], error) {
	if err := def.Validate(); err != nil {
		return nil, err
	}
	return &Simulation[S]{def: def, now: start, records: map[string]*Record{}}, nil
}

// Now is the simulation's clock.
func (s *Simulation[S]) Now() time.Time { return s.now }

// Event handles ev as the manager would: for each instance it concerns, in
// order. An error (the handler's, an association's, an invalid step) is
// what the manager would retry and then dead-letter: the instance it
// happened on is left as it was, and the instances handled before it keep
// what they did, as they would (a redelivery finds them done).
func (s *Simulation[S]) Event(ctx context.Context, ev streams.Event) ([]Outcome, error) {
	on, ok := s.def.on(ev.Type)
	if !ok {
		return nil, nil
	}
	ids, err := on.instancesOf(ev)
	if err != nil {
		return nil, err
	}
	var out []Outcome
	for _, id := range ids {
		msg := eventMessage(ev, on)
		o, err := s.handle(ctx, id, msg)
		if err != nil {
			return out, err
		}
		out = append(out, o)
	}
	return out, nil
}

func eventMessage[S any](ev streams.Event, on On[S]) message[S] {
	return message[S]{
		ID: ev.ID, Kind: KindEvent, Type: ev.Type, Sequence: ev.Sequence, CorrelationID: ev.Metadata.CorrelationID,
		event: &ev, start: on.Start, handle: on.Handle,
	}
}

// Advance moves the clock forward by d, firing each deadline that falls
// due on the way in the order they are due, with the clock at each one's
// time as it fires. Deadlines those handlers set fire too when they are
// due before the end.
func (s *Simulation[S]) Advance(ctx context.Context, d time.Duration) ([]Outcome, error) {
	if d < 0 {
		return nil, fmt.Errorf("processes: Advance(%s): the clock only moves forward", d)
	}
	end := s.now.Add(d)
	var out []Outcome
	for {
		id, pd, ok := s.nextDue(end)
		if !ok {
			break
		}
		if pd.At.After(s.now) {
			s.now = pd.At
		}
		msg := message[S]{ID: pd.ID, Kind: KindDeadline, Type: pd.Name, fired: &Fired{Name: pd.Name, ID: pd.ID, At: pd.At, Payload: pd.Payload}}
		o, err := s.handle(ctx, id, msg)
		if err != nil {
			return out, err
		}
		out = append(out, o)
	}
	s.now = end
	return out, nil
}

// nextDue is the pending deadline due first, at or before end.
func (s *Simulation[S]) nextDue(end time.Time) (string, PendingDeadline, bool) {
	var (
		bestID string
		best   PendingDeadline
		found  bool
	)
	for id, r := range s.records {
		for _, pd := range r.Deadlines {
			if pd.At.After(end) {
				continue
			}
			if !found || pd.At.Before(best.At) || (pd.At.Equal(best.At) && id < bestID) {
				bestID, best, found = id, pd, true
			}
		}
	}
	return bestID, best, found
}

func (s *Simulation[S]) handle(ctx context.Context, id string, msg message[S]) (Outcome, error) {
	o := Outcome{Instance: id, Message: msg.Kind + " " + msg.Type}
	rec := s.records[id]
	dec, err := s.def.decide(ctx, rec, false, id, msg, s.now, DefaultHistory, math.MaxUint64) // nothing is redelivered
	if err != nil {
		return o, err
	}
	if dec.verdict != applied {
		o.Skipped = dec.verdict.reason()
		return o, nil
	}
	// Every effect is done at once in memory: nothing stays pending.
	dec.next.Pending = nil
	s.records[id] = dec.next
	o.Started, o.Ended = dec.started, dec.next.Status == StatusEnded
	for _, e := range dec.effects {
		switch e.Kind {
		case EffectCommand:
			o.Commands = append(o.Commands, SentCommand{ID: e.ID, Name: e.Name, Body: e.Body})
		case EffectDeadline:
			o.Set = append(o.Set, PendingDeadline{Name: e.Name, ID: e.ID, At: *e.At, Payload: e.Body})
		case EffectCancel:
			o.Cancelled = append(o.Cancelled, e.Name)
		}
	}
	return o, nil
}

// Instance returns the instance id as it is now.
func (s *Simulation[S]) Instance(id string) (View[S], bool) {
	r, ok := s.records[id]
	if !ok {
		return View[S]{}, false
	}
	v := View[S]{ID: r.ID, Status: r.Status, Deadlines: slices.Clone(r.Deadlines), Steps: r.Steps, Handled: slices.Clone(r.Handled)}
	if err := json.Unmarshal(r.State, &v.State); err != nil {
		return View[S]{}, false
	}
	return v, true
}

// Instances lists the ids of the instances, sorted.
func (s *Simulation[S]) Instances() []string {
	ids := make([]string, 0, len(s.records))
	for id := range s.records {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, strings.Compare)
	return ids
}
