package jetflowtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// Scenario is an aggregate at a point of its history, built without a
// server: what Given returns, ready for When.
type Scenario[S aggregates.State] struct {
	t             testing.TB
	newState      func() S
	aggregateType string
	id            string
	history       []streams.Event
}

// Given replays history, the aggregate's past events in order, into the
// fresh state newState returns, as the repository does when it loads the
// aggregate. The events get versions 1..n and, unless the test set them,
// stream sequences 1..n, ids and occurred-at times (see EventTime). The
// aggregate's id and type are the first event's that names them (EventOf);
// events that name none (Event) are given them, and an event of another
// aggregate fails the test. Without history, the aggregate is a new one
// whose id is the one the command names, or the one WithID sets.
//
// An event the state's Apply refuses fails the test, naming the event.
func Given[S aggregates.State](t testing.TB, newState func() S, history ...streams.Event) *Scenario[S] {
	t.Helper()
	if newState == nil {
		t.Fatalf("jetflowtest: Given needs the function that returns a fresh state")
	}
	s := &Scenario[S]{t: t, newState: newState, history: history}
	for _, ev := range history {
		if ev.AggregateID != "" {
			s.id = ev.AggregateID
			s.aggregateType = ev.AggregateType
			break
		}
	}
	s.check()
	s.build(s.id)
	return s
}

// WithID sets the aggregate's id, for a history built with Event, or a new
// aggregate whose command names no id (its AssignID receives this one).
func (s *Scenario[S]) WithID(id string) *Scenario[S] {
	s.t.Helper()
	s.id = id
	s.check()
	return s
}

// check fails the test when the history mixes aggregates.
func (s *Scenario[S]) check() {
	s.t.Helper()
	for i, ev := range s.history {
		if ev.AggregateID != "" && ev.AggregateID != s.id {
			s.t.Fatalf("jetflowtest: given event %d (%s) is of aggregate %q, the history is of %q: one history is one aggregate's events", i+1, ev.Type, ev.AggregateID, s.id)
		}
		if ev.AggregateType != "" && s.aggregateType != "" && ev.AggregateType != s.aggregateType {
			s.t.Fatalf("jetflowtest: given event %d (%s) is of aggregate type %q, the history is of %q", i+1, ev.Type, ev.AggregateType, s.aggregateType)
		}
	}
}

// Instance returns the aggregate as Given built it: a fresh state with the
// history applied.
func (s *Scenario[S]) Instance() *aggregates.Instance[S] {
	s.t.Helper()
	return s.build(s.id)
}

// build replays the history into a fresh state of aggregate id.
func (s *Scenario[S]) build(id string) *aggregates.Instance[S] {
	s.t.Helper()
	inst := &aggregates.Instance[S]{ID: id, State: s.newState()}
	for i, ev := range s.history {
		if ev.AggregateID == "" {
			ev.AggregateID = id
		}
		if ev.AggregateType == "" {
			ev.AggregateType = s.aggregateType
		}
		if ev.Sequence != 0 && ev.Sequence <= inst.Position.Sequence {
			s.t.Fatalf("jetflowtest: given event %d (%s) has sequence %d, not after the previous event's %d", i+1, ev.Type, ev.Sequence, inst.Position.Sequence)
		}
		ev.Version = 0
		ev = stored(ev, inst.Position.Sequence+1, uint64(i)+1)
		if err := inst.State.Apply(ev); err != nil {
			s.t.Fatalf("jetflowtest: given event %d of %d, %s: Apply refused it: %v", i+1, len(s.history), describeEvent(ev), err)
		}
		inst.Position = ev.Position()
	}
	return inst
}

// When runs action against the aggregate as Given built it. Each When
// starts from the given history again, so one Scenario can run several
// commands.
func (s *Scenario[S]) When(action Action[S]) *Decision[S] {
	s.t.Helper()
	return run(s.t, action, s.id, s.aggregateType, s.build)
}

// Action is a command ready to run against an aggregate: what When takes.
// Build one with Command or Decide.
type Action[S aggregates.State] struct {
	name    string
	problem string
	// prepare does what the command service does before Decide: it picks
	// the aggregate id (knownID is the given history's) and validates the
	// command. It returns the decider, or the error the service would
	// answer instead.
	prepare func(knownID string) (id string, decide aggregates.Decider[S], err error)
}

// Command is the command cmd as the command service runs it for spec: the
// aggregate id is spec.AggregateID's (when it returns "" and spec.AssignID
// is set, AssignID receives the given aggregate's id, or a new UUIDv7 for a
// new aggregate, as a resend or a create would), an id that cannot be a
// subject token is a validation error, then cmd's Validate runs when cmd
// implements wire.Validator, and only a valid command reaches
// spec.Decide. A validation error that is not an *aggregates.DomainError
// matches aggregates.ErrValidation (the service answers it 400) and still
// matches itself with errors.Is.
func Command[S aggregates.State, C any](spec aggregates.CommandSpec[S, C], cmd C) Action[S] {
	a := Action[S]{name: "command " + spec.Name + " " + showValue(cmd)}
	if spec.AggregateID == nil || spec.Decide == nil {
		a.problem = fmt.Sprintf("the spec of command %q needs AggregateID and Decide (aggregates.Register refuses it too)", spec.Name)
		return a
	}
	a.prepare = func(knownID string) (string, aggregates.Decider[S], error) {
		c := cmd
		id := spec.AggregateID(&c)
		if id == "" && spec.AssignID != nil {
			id = knownID
			if id == "" {
				id = streams.NewEventID()
			}
			spec.AssignID(&c, id)
		}
		if err := streams.ValidateAggregateID(id); err != nil {
			return id, nil, aggregates.Invalid("invalid id: %s", strings.TrimPrefix(err.Error(), "streams: invalid aggregate id "))
		}
		if v, ok := any(&c).(wire.Validator); ok {
			if err := v.Validate(); err != nil {
				var de *aggregates.DomainError
				if !errors.As(err, &de) {
					err = &invalidCommand{domain: aggregates.Invalid("%v", err), cause: err}
				}
				return id, nil, err
			}
		}
		return id, func(inst *aggregates.Instance[S]) ([]aggregates.Change, error) { return spec.Decide(c, inst) }, nil
	}
	return a
}

// Decide is a bare decider as an action, for code that calls
// aggregates.Repository.Execute itself; name names it in failures.
func Decide[S aggregates.State](name string, decide aggregates.Decider[S]) Action[S] {
	a := Action[S]{name: "decider " + name}
	if decide == nil {
		a.problem = fmt.Sprintf("decider %q is nil", name)
		return a
	}
	a.prepare = func(knownID string) (string, aggregates.Decider[S], error) { return knownID, decide, nil }
	return a
}

// invalidCommand is a command's own validation error as the command
// service answers it: a 400 with its message.
type invalidCommand struct {
	domain error
	cause  error
}

func (e *invalidCommand) Error() string   { return e.domain.Error() }
func (e *invalidCommand) Unwrap() []error { return []error{e.domain, e.cause} }

// run decides action on the aggregate build makes.
func run[S aggregates.State](t testing.TB, action Action[S], knownID, aggregateType string, build func(id string) *aggregates.Instance[S]) *Decision[S] {
	t.Helper()
	if action.problem != "" {
		t.Fatalf("jetflowtest: %s", action.problem)
	}
	if action.prepare == nil {
		t.Fatalf("jetflowtest: When needs an Action made by Command or Decide")
	}
	id, decide, err := action.prepare(knownID)
	if knownID != "" && id != "" && id != knownID {
		t.Fatalf("jetflowtest: %s targets aggregate %q, but the given events are of aggregate %q", action.name, id, knownID)
	}
	if knownID != "" {
		id = knownID
	}
	inst := build(id)
	d := &Decision[S]{t: t, aggregateType: aggregateType, inst: inst}
	d.what = fmt.Sprintf("%s on aggregate %q at version %d", action.name, inst.ID, inst.Position.Version)
	if err != nil {
		d.err = err
		return d
	}
	before, beforeErr := json.Marshal(inst.State)
	d.changes, d.err = decide(inst)
	if after, afterErr := json.Marshal(inst.State); beforeErr == nil && afterErr == nil && !bytes.Equal(before, after) {
		t.Errorf("jetflowtest: %s: Decide changed the state; it must not (the repository applies the decided events)\n  before: %s\n  after:  %s", d.what, showJSON(before), showJSON(after))
	}
	return d
}

// Decision is what an action decided: events or an error. Check it with
// Then, ThenError or ThenNothing, and the state after it with ThenState.
type Decision[S aggregates.State] struct {
	t             testing.TB
	what          string
	aggregateType string
	inst          *aggregates.Instance[S]
	changes       []aggregates.Change
	err           error
	applied       bool
}

// Changes returns the decided events (nil when the action failed).
func (d *Decision[S]) Changes() []aggregates.Change { return d.changes }

// Err returns the action's error: a validation error or Decide's.
func (d *Decision[S]) Err() error { return d.err }

// Then checks that the action decided exactly want, in order: the same
// types, schema versions (0 means 1) and data as JSON. A difference fails
// the test with, for each position, the expected and actual event, and the
// fields of the data that differ. The decided events are then applied to
// the state (see ThenState).
func (d *Decision[S]) Then(want ...aggregates.Change) *Decision[S] {
	d.t.Helper()
	if d.err != nil {
		d.t.Errorf("jetflowtest: %s\nexpected %s\nactual: error %s", d.what, listChanges(want), describeError(d.err))
		return d
	}
	if report, ok := compareChanges(want, d.changes); !ok {
		d.t.Errorf("jetflowtest: %s decided other events than expected (expected %d, actual %d):\n%s", d.what, len(want), len(d.changes), report)
	}
	d.apply()
	return d
}

// ThenError checks that the action failed with an error matching target
// (errors.Is): aggregates.ErrValidation, ErrNotFound, ErrRuleViolated or the
// domain's own. Otherwise it fails the test with the actual error, or the
// events decided instead.
func (d *Decision[S]) ThenError(target error) *Decision[S] {
	d.t.Helper()
	if target == nil {
		d.t.Fatalf("jetflowtest: ThenError needs the error to expect; use Then or ThenNothing for a success")
	}
	switch {
	case d.err == nil:
		d.t.Errorf("jetflowtest: %s\nexpected: error matching %s\nactual: no error, %s", d.what, describeError(target), listChanges(d.changes))
	case !errors.Is(d.err, target):
		d.t.Errorf("jetflowtest: %s\nexpected: error matching %s\nactual:   error %s", d.what, describeError(target), describeError(d.err))
	}
	return d
}

// ThenNothing checks that the action succeeded without deciding any event,
// as a command that asks for what is already so does.
func (d *Decision[S]) ThenNothing() *Decision[S] {
	d.t.Helper()
	switch {
	case d.err != nil:
		d.t.Errorf("jetflowtest: %s\nexpected: no event and no error\nactual:   error %s", d.what, describeError(d.err))
	case len(d.changes) > 0:
		d.t.Errorf("jetflowtest: %s\nexpected: no event and no error\nactual:   %s", d.what, listChanges(d.changes))
	}
	return d
}

// ThenState applies the decided events to the state, as the repository
// does once they are stored, and calls check with the state after them. An
// event the state's Apply refuses fails the test.
func (d *Decision[S]) ThenState(check func(t testing.TB, state S)) *Decision[S] {
	d.t.Helper()
	d.apply()
	check(d.t, d.inst.State)
	return d
}

// Instance returns the aggregate after the decided events, applied to its
// state. A later When on this Decision changes it further.
func (d *Decision[S]) Instance() *aggregates.Instance[S] {
	d.t.Helper()
	d.apply()
	return d.inst
}

// When runs the next action against the aggregate after this decision's
// events: a sequence of commands, each seeing what the ones before decided.
func (d *Decision[S]) When(action Action[S]) *Decision[S] {
	d.t.Helper()
	d.apply()
	inst := d.inst
	return run(d.t, action, inst.ID, d.aggregateType, func(string) *aggregates.Instance[S] { return inst })
}

// apply applies the decided events to the state, once.
func (d *Decision[S]) apply() {
	d.t.Helper()
	if d.applied {
		return
	}
	d.applied = true
	if d.err != nil {
		return
	}
	for i, c := range d.changes {
		data, err := marshal(c.Data)
		if err != nil {
			d.t.Fatalf("jetflowtest: %s: data of decided event %d (%s) does not marshal to JSON (the repository would fail): %v", d.what, i+1, c.Type, err)
		}
		pos := d.inst.Position
		ev := stored(streams.Event{
			Type:          c.Type,
			Schema:        c.Schema,
			Data:          data,
			AggregateType: d.aggregateType,
			AggregateID:   d.inst.ID,
		}, pos.Sequence+1, pos.Version+1)
		if err := d.inst.State.Apply(ev); err != nil {
			d.t.Fatalf("jetflowtest: %s: decided event %d of %d, %s: Apply refused it: %v", d.what, i+1, len(d.changes), describeEvent(ev), err)
		}
		d.inst.Position = ev.Position()
	}
}

// shownChange is one event as messages show it.
type shownChange struct {
	text string
	typ  string
	data jsonValue
	bad  bool
}

func showChange(c aggregates.Change) shownChange {
	schema := max(c.Schema, 1)
	s := shownChange{typ: fmt.Sprintf("%s/%d", c.Type, schema)}
	head := c.Type
	if schema != 1 {
		head += fmt.Sprintf(" (schema %d)", schema)
	}
	raw, err := marshal(c.Data)
	if err != nil {
		s.bad = true
		s.text = fmt.Sprintf("%s <data does not marshal: %v>", head, err)
		return s
	}
	s.data = decodeJSON(raw)
	s.text = head + " " + s.data.String()
	return s
}

// compareChanges reports position by position how got differs from want.
func compareChanges(want, got []aggregates.Change) (string, bool) {
	var b strings.Builder
	ok := true
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			ok = false
			fmt.Fprintf(&b, "  event %d: missing\n    expected: %s\n", i+1, showChange(want[i]).text)
		case i >= len(want):
			ok = false
			fmt.Fprintf(&b, "  event %d: unexpected\n    actual:   %s\n", i+1, showChange(got[i]).text)
		default:
			w, g := showChange(want[i]), showChange(got[i])
			if !w.bad && !g.bad && w.typ == g.typ && w.data.equal(g.data) {
				fmt.Fprintf(&b, "  event %d: as expected, %s\n", i+1, g.text)
				continue
			}
			ok = false
			fmt.Fprintf(&b, "  event %d: differs\n    expected: %s\n    actual:   %s\n", i+1, w.text, g.text)
			if w.typ == g.typ && !w.bad && !g.bad {
				for _, line := range jsonDiff(w.data, g.data) {
					fmt.Fprintf(&b, "      %s\n", line)
				}
			}
		}
	}
	return strings.TrimSuffix(b.String(), "\n"), ok
}

// listChanges describes events on lines of their own.
func listChanges(changes []aggregates.Change) string {
	if len(changes) == 0 {
		return "no event"
	}
	var b strings.Builder
	if len(changes) == 1 {
		b.WriteString("1 event:")
	} else {
		fmt.Fprintf(&b, "%d events:", len(changes))
	}
	for i, c := range changes {
		fmt.Fprintf(&b, "\n  event %d: %s", i+1, showChange(c).text)
	}
	return b.String()
}

// describeError shows an error's message and what kind of error it is.
func describeError(err error) string {
	s := fmt.Sprintf("%q", err.Error())
	var de *aggregates.DomainError
	if errors.As(err, &de) && de.Kind != nil {
		return s + fmt.Sprintf(" (%T, kind %q)", de, de.Kind.Error())
	}
	return s + fmt.Sprintf(" (%T)", err)
}

// showValue shows a command in messages: as JSON when it marshals.
func showValue(v any) string {
	if _, err := json.Marshal(v); err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return encode(v)
}
