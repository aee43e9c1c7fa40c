package jetflowtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
)

// ProcessStart is the time a process fixture's clock starts at:
// 2026-01-01T00:00:00Z, the occurred-at of an event at sequence 0 (see
// EventTime).
var ProcessStart = EventTime(0)

// Process is a process manager in a test, run in memory on a fake clock
// (processes.Simulation): what GivenProcess returns. When hands it events,
// Advance moves its clock and fires the deadlines that fall due, and the
// Then methods check what the last When or Advance did — the commands it
// sent, the deadlines it set, the instances' states — with a readable
// report when it is not what the test expects.
type Process[S any] struct {
	t   testing.TB
	sim *processes.Simulation[S]
	seq uint64
	// what the last When or Advance did, and its error.
	what     string
	outcomes []processes.Outcome
	err      error
}

// GivenProcess starts def's manager in memory with its clock at
// ProcessStart and hands it history, the events before the test's, in
// order (as When does, with no check but that each is handled without an
// error). Events get what the event store sets (see Given): stream
// sequences from 1, ids, occurred-at times. Build them with EventOf: the
// association reads their aggregate and data.
func GivenProcess[S any](t testing.TB, def processes.Definition[S], history ...streams.Event) *Process[S] {
	t.Helper()
	sim, err := processes.NewSimulation(def, ProcessStart)
	if err != nil {
		t.Fatalf("jetflowtest: process %s: %v", def.Name, err)
	}
	p := &Process[S]{t: t, sim: sim}
	for i, ev := range history {
		ev = p.stored(ev)
		if _, err := sim.Event(context.Background(), ev); err != nil {
			t.Fatalf("jetflowtest: given event %d of %d, %s: %v", i+1, len(history), describeEvent(ev), err)
		}
	}
	return p
}

func (p *Process[S]) stored(ev streams.Event) streams.Event {
	p.seq++
	if ev.Sequence > p.seq {
		p.seq = ev.Sequence
	}
	return stored(ev, p.seq, 1)
}

// When hands events to the manager, in order, at the fixture's clock. The
// Then methods check what they did together. An event whose handling
// fails stops there: ThenError checks the error.
func (p *Process[S]) When(events ...streams.Event) *Process[S] {
	p.t.Helper()
	p.outcomes, p.err = nil, nil
	var names []string
	for _, ev := range events {
		ev = p.stored(ev)
		names = append(names, ev.Type)
		out, err := p.sim.Event(context.Background(), ev)
		p.outcomes = append(p.outcomes, out...)
		if err != nil {
			p.err = err
			break
		}
	}
	p.what = "when " + strings.Join(names, ", ")
	return p
}

// Advance moves the clock forward by d, firing every deadline due on the
// way, in the order they fall due, each at its own time. The Then methods
// check what the deadlines did.
func (p *Process[S]) Advance(d time.Duration) *Process[S] {
	p.t.Helper()
	if d < 0 {
		p.t.Fatalf("jetflowtest: Advance(%s): the clock only moves forward", d)
	}
	p.outcomes, p.err = p.sim.Advance(context.Background(), d)
	p.what = fmt.Sprintf("after advancing the clock %s to %s", d, p.sim.Now().Format(time.RFC3339))
	return p
}

// Now is the fixture's clock.
func (p *Process[S]) Now() time.Time { return p.sim.Now() }

// Outcomes are what the last When or Advance did, one per instance and
// message.
func (p *Process[S]) Outcomes() []processes.Outcome { return p.outcomes }

// Instance returns the instance id as it is now.
func (p *Process[S]) Instance(id string) (processes.View[S], bool) { return p.sim.Instance(id) }

// ThenCommands checks that the last When or Advance sent exactly want, in
// order, whichever instances sent them: the same names and bodies as JSON.
func (p *Process[S]) ThenCommands(want ...processes.Command) *Process[S] {
	p.t.Helper()
	if p.failed() {
		return p
	}
	var got []processes.SentCommand
	for _, o := range p.outcomes {
		got = append(got, o.Commands...)
	}
	if report, ok := compareCommands(want, got); !ok {
		p.t.Errorf("jetflowtest: process %s sent other commands than expected (expected %d, actual %d):\n%s", p.what, len(want), len(got), report)
	}
	return p
}

// ThenNoCommands checks that the last When or Advance sent nothing.
func (p *Process[S]) ThenNoCommands() *Process[S] {
	p.t.Helper()
	return p.ThenCommands()
}

// ThenDeadlines checks that instance id has exactly the pending deadlines
// named in want, soonest first (none when want is empty).
func (p *Process[S]) ThenDeadlines(id string, want ...string) *Process[S] {
	p.t.Helper()
	v, ok := p.instance(id)
	if !ok {
		return p
	}
	var got []string
	for _, d := range v.Deadlines {
		got = append(got, fmt.Sprintf("%s at %s", d.Name, d.At.Format(time.RFC3339)))
	}
	names := make([]string, len(v.Deadlines))
	for i, d := range v.Deadlines {
		names[i] = d.Name
	}
	if !slices.Equal(names, want) {
		p.t.Errorf("jetflowtest: process %s, instance %s:\nexpected deadlines %q\nactual:            %q", p.what, id, want, got)
	}
	return p
}

// ThenDeadlineIn checks that instance id has the pending deadline name,
// due d after the fixture's clock.
func (p *Process[S]) ThenDeadlineIn(id, name string, d time.Duration) *Process[S] {
	p.t.Helper()
	v, ok := p.instance(id)
	if !ok {
		return p
	}
	for _, pd := range v.Deadlines {
		if pd.Name == name {
			if want := p.sim.Now().Add(d); !pd.At.Equal(want) {
				p.t.Errorf("jetflowtest: process %s, instance %s: deadline %s is due at %s (in %s), expected %s (in %s)",
					p.what, id, name, pd.At.Format(time.RFC3339), pd.At.Sub(p.sim.Now()), want.Format(time.RFC3339), d)
			}
			return p
		}
	}
	p.t.Errorf("jetflowtest: process %s, instance %s has no pending deadline %s (it has %d)", p.what, id, name, len(v.Deadlines))
	return p
}

// ThenState calls check with instance id's state.
func (p *Process[S]) ThenState(id string, check func(t testing.TB, state S)) *Process[S] {
	p.t.Helper()
	if v, ok := p.instance(id); ok {
		check(p.t, v.State)
	}
	return p
}

// ThenEnded checks that instance id has ended.
func (p *Process[S]) ThenEnded(id string) *Process[S] {
	p.t.Helper()
	if v, ok := p.instance(id); ok && v.Status != processes.StatusEnded {
		p.t.Errorf("jetflowtest: process %s, instance %s is %s, expected ended", p.what, id, v.Status)
	}
	return p
}

// ThenRunning checks that instance id exists and has not ended.
func (p *Process[S]) ThenRunning(id string) *Process[S] {
	p.t.Helper()
	if v, ok := p.instance(id); ok && v.Status != processes.StatusRunning {
		p.t.Errorf("jetflowtest: process %s, instance %s is %s, expected running", p.what, id, v.Status)
	}
	return p
}

// ThenNoInstance checks that no instance id was ever started.
func (p *Process[S]) ThenNoInstance(id string) *Process[S] {
	p.t.Helper()
	if v, ok := p.sim.Instance(id); ok {
		p.t.Errorf("jetflowtest: process %s: instance %s exists (%s, %d steps), expected none", p.what, id, v.Status, v.Steps)
	}
	return p
}

// ThenSkipped checks that every message of the last When or Advance was
// skipped for reason (processes.ReasonNotStarted, ReasonEnded,
// ReasonStale, ReasonDuplicate) and did nothing.
func (p *Process[S]) ThenSkipped(reason string) *Process[S] {
	p.t.Helper()
	if p.failed() {
		return p
	}
	if len(p.outcomes) == 0 {
		p.t.Errorf("jetflowtest: process %s: nothing was handled (no instance concerned, or no handler for the event), expected it skipped as %s", p.what, reason)
	}
	for _, o := range p.outcomes {
		if o.Skipped != reason {
			p.t.Errorf("jetflowtest: process %s: %s on instance %s was %s, expected skipped as %s", p.what, o.Message, o.Instance, describeOutcome(o), reason)
		}
	}
	return p
}

// ThenError checks that handling failed with an error matching target
// (errors.Is): the handler's own error, processes.ErrHandlerPanicked,
// ErrInvalidStep, ErrAssociation. The manager would retry the message and
// then dead-letter it; the instance is left as it was.
func (p *Process[S]) ThenError(target error) *Process[S] {
	p.t.Helper()
	switch {
	case target == nil:
		p.t.Fatalf("jetflowtest: ThenError needs the error to expect")
	case p.err == nil:
		p.t.Errorf("jetflowtest: process %s\nexpected: error matching %s\nactual:   no error", p.what, describeError(target))
	case !errors.Is(p.err, target):
		p.t.Errorf("jetflowtest: process %s\nexpected: error matching %s\nactual:   error %s", p.what, describeError(target), describeError(p.err))
	}
	return p
}

// failed reports (as a test failure) an error where a success was expected.
func (p *Process[S]) failed() bool {
	p.t.Helper()
	if p.err != nil {
		p.t.Errorf("jetflowtest: process %s failed: %v", p.what, p.err)
		return true
	}
	return false
}

func (p *Process[S]) instance(id string) (processes.View[S], bool) {
	p.t.Helper()
	v, ok := p.sim.Instance(id)
	if !ok {
		p.t.Errorf("jetflowtest: process %s: no instance %s (instances: %q)", p.what, id, p.sim.Instances())
	}
	return v, ok
}

func describeOutcome(o processes.Outcome) string {
	if o.Skipped != "" {
		return "skipped as " + o.Skipped
	}
	s := fmt.Sprintf("handled (%d commands, %d deadlines set, %d cancelled", len(o.Commands), len(o.Set), len(o.Cancelled))
	if o.Ended {
		s += ", ended"
	}
	return s + ")"
}

// compareCommands reports position by position how got differs from want.
func compareCommands(want []processes.Command, got []processes.SentCommand) (string, bool) {
	var b strings.Builder
	ok := true
	for i := range max(len(want), len(got)) {
		var w commandShown
		if i < len(want) {
			var raw []byte
			if want[i].Body != nil {
				var err error
				if raw, err = marshal(want[i].Body); err != nil {
					return fmt.Sprintf("  command %d: the expected body does not marshal: %v", i+1, err), false
				}
			}
			w = showCommand(want[i].Name, raw)
		}
		switch {
		case i >= len(got):
			ok = false
			fmt.Fprintf(&b, "  command %d: missing\n    expected: %s\n", i+1, w.text)
		case i >= len(want):
			ok = false
			fmt.Fprintf(&b, "  command %d: unexpected\n    actual:   %s\n", i+1, showCommand(got[i].Name, got[i].Body).text)
		default:
			g := showCommand(got[i].Name, got[i].Body)
			if w.name == g.name && w.body.equal(g.body) {
				fmt.Fprintf(&b, "  command %d: as expected, %s\n", i+1, g.text)
				continue
			}
			ok = false
			fmt.Fprintf(&b, "  command %d: differs\n    expected: %s\n    actual:   %s\n", i+1, w.text, g.text)
			if w.name == g.name {
				for _, line := range jsonDiff(w.body, g.body) {
					fmt.Fprintf(&b, "      %s\n", line)
				}
			}
		}
	}
	return strings.TrimSuffix(b.String(), "\n"), ok
}

// commandShown is a command as the fixture compares and prints it; a
// command without a body has the zero body.
type commandShown struct {
	name, text string
	body       jsonValue
}

func showCommand(name string, body []byte) commandShown {
	c := commandShown{name: name, text: name}
	if len(body) > 0 {
		c.body = decodeJSON(body)
		c.text += " " + c.body.String()
	}
	return c
}
