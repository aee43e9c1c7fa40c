package processes

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/jetflow/jetflow/streams"
)

// The decisions of a manager, without I/O: what one message does to one
// instance's record. The Manager (manager.go) stores the record and
// carries out the effects; Simulation runs the same decisions in memory.

// message is one message for one instance: an event, or a deadline that
// fired.
type message[S any] struct {
	// ID is the event's id or the deadline's: what Handled records.
	ID   string
	Kind string
	// Type is the event type, or the deadline's name.
	Type          string
	Sequence      uint64
	CorrelationID string
	// Exactly one of event and fired is set.
	event *streams.Event
	fired *Fired
	// start: the event may create the instance.
	start bool
	// handle is the event's handler (nil for a deadline).
	handle Handler[S]
}

// verdict is what a message does to an instance.
type verdict int

const (
	applied verdict = iota
	// duplicate: handled before (a redelivery); its pending effects are
	// done again.
	duplicate
	// notStarted: no instance, and the message does not start one.
	notStarted
	// ended: the instance has ended.
	ended
	// staleDeadline: the deadline is not pending (cancelled, replaced, or
	// handled already).
	staleDeadline
)

// Skip reasons, as logs and metrics name them.
const (
	ReasonDuplicate   = "duplicate"
	ReasonNotStarted  = "not_started"
	ReasonEnded       = "ended"
	ReasonStale       = "deadline_not_pending"
	ReasonNoInstances = "no_instance"
)

func (v verdict) reason() string {
	switch v {
	case duplicate:
		return ReasonDuplicate
	case notStarted:
		return ReasonNotStarted
	case ended:
		return ReasonEnded
	case staleDeadline:
		return ReasonStale
	}
	return ""
}

// decision is the outcome of decide.
type decision struct {
	verdict verdict
	// next is the record to store (applied only).
	next *Record
	// effects are the new effects to do once next is stored; for a
	// duplicate, the pending effects of its first handling.
	effects []Effect
	// started: next is a new instance.
	started bool
}

// decide runs msg against the instance id whose record is rec (nil when
// there is none; tomb when it ended and was removed). rec is not changed.
func (d *Definition[S]) decide(ctx context.Context, rec *Record, tomb bool, id string, msg message[S], now time.Time, history int, ackFloor uint64) (decision, error) {
	var dec decision
	if rec != nil && rec.handled(msg.ID) {
		dec.verdict, dec.effects = duplicate, rec.pendingOf(msg.ID)
		return dec, nil
	}
	switch {
	case tomb:
		dec.verdict = ended
		return dec, nil
	case rec == nil && msg.Kind == KindDeadline:
		dec.verdict = staleDeadline
		return dec, nil
	case rec == nil && !msg.start:
		dec.verdict = notStarted
		return dec, nil
	case rec != nil && rec.Status == StatusEnded:
		dec.verdict = ended
		return dec, nil
	}
	if msg.Kind == KindDeadline && !slices.ContainsFunc(rec.Deadlines, func(p PendingDeadline) bool { return p.ID == msg.ID }) {
		dec.verdict = staleDeadline
		return dec, nil
	}

	inst := Instance[S]{Process: d.Name, ID: id, Now: now, New: rec == nil}
	if rec != nil {
		if err := json.Unmarshal(rec.State, &inst.State); err != nil {
			return dec, fmt.Errorf("%w: state of %s %s does not decode into the handlers' state: %v", ErrMalformedRecord, d.Name, id, err)
		}
		inst.Deadlines = slices.Clone(rec.Deadlines)
		inst.Steps = rec.Steps
	}
	step, err := d.run(ctx, inst, msg)
	if err != nil {
		return dec, err
	}
	next, effects, err := d.apply(rec, inst, msg, step, now, history, ackFloor)
	if err != nil {
		return dec, err
	}
	dec.verdict, dec.next, dec.effects, dec.started = applied, next, effects, rec == nil
	return dec, nil
}

// run calls the message's handler; a panic is an error (the instance is
// left as it was, as for any handler error).
func (d *Definition[S]) run(ctx context.Context, inst Instance[S], msg message[S]) (step Step[S], err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %s %s on %s: %v\n%s", ErrHandlerPanicked, msg.Kind, msg.Type, inst.ID, v, debug.Stack())
		}
	}()
	switch msg.Kind {
	case KindEvent:
		h := msg.handle
		if h == nil {
			return step, fmt.Errorf("%w: event %s has no handler", ErrInvalidDefinition, msg.Type)
		}
		return h(ctx, inst, *msg.event)
	default:
		h := d.Deadlines[msg.Type]
		if h == nil {
			return step, fmt.Errorf("%w: deadline %q has no handler", ErrInvalidStep, msg.Type)
		}
		return h(ctx, inst, *msg.fired)
	}
}

// apply turns a step into the next record and the effects to do.
func (d *Definition[S]) apply(rec *Record, inst Instance[S], msg message[S], step Step[S], now time.Time, history int, ackFloor uint64) (*Record, []Effect, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s %s of %s %s: "+format, append([]any{ErrInvalidStep, msg.Kind, msg.Type, d.Name, inst.ID}, args...)...)
	}
	var next *Record
	if rec == nil {
		next = &Record{Process: d.Name, ID: inst.ID, Status: StatusRunning, StartedAt: now}
	} else {
		next = rec.clone()
	}
	state, err := json.Marshal(step.State)
	if err != nil {
		return nil, nil, invalid("state does not encode: %v", err)
	}
	next.State, next.UpdatedAt = state, now
	next.Steps++
	if msg.Kind == KindDeadline {
		next.Deadlines = slices.DeleteFunc(next.Deadlines, func(p PendingDeadline) bool { return p.ID == msg.ID })
	}

	var cancels, sets, commands []Effect
	effect := func(kind, id, name string, body json.RawMessage, at *time.Time) Effect {
		return Effect{Kind: kind, ID: id, Message: msg.ID, Name: name, Body: body, At: at, CorrelationID: msg.CorrelationID, WrittenAt: now}
	}
	cancel := func(name string) {
		next.Deadlines = slices.DeleteFunc(next.Deadlines, func(p PendingDeadline) bool {
			if p.Name == name {
				cancels = append(cancels, effect(EffectCancel, p.ID, p.Name, nil, nil))
				return true
			}
			return false
		})
	}
	for _, name := range step.Cancel {
		if err := validateDeadlineName(name); err != nil {
			return nil, nil, invalid("cancel: %v", err)
		}
		cancel(name)
	}
	for i, dl := range step.Deadlines {
		if _, ok := d.Deadlines[dl.Name]; !ok {
			return nil, nil, invalid("deadline %q: Definition.Deadlines has no handler for it", dl.Name)
		}
		at := dl.At
		if at.IsZero() {
			if dl.After < 0 {
				return nil, nil, invalid("deadline %q: After %s is negative", dl.Name, dl.After)
			}
			at = now.Add(dl.After)
		}
		at = at.UTC()
		payload, err := encodeBody(dl.Payload)
		if err != nil {
			return nil, nil, invalid("deadline %q: payload: %v", dl.Name, err)
		}
		cancel(dl.Name) // a deadline of the same name is replaced
		pid := deadlineID(d.Name, inst.ID, msg.ID, i)
		next.Deadlines = append(next.Deadlines, PendingDeadline{Name: dl.Name, ID: pid, At: at, Payload: payload})
		sets = append(sets, effect(EffectDeadline, pid, dl.Name, payload, &at))
	}
	for i, c := range step.Commands {
		if err := checkCommandName(c.Name); err != nil {
			return nil, nil, invalid("command %d: %v", i, err)
		}
		body, err := encodeBody(c.Body)
		if err != nil {
			return nil, nil, invalid("command %s: body: %v", c.Name, err)
		}
		commands = append(commands, effect(EffectCommand, CommandID(d.Name, inst.ID, msg.ID, i), c.Name, body, nil))
	}
	if step.End {
		next.Status = StatusEnded
		end := now
		next.EndedAt = &end
		for _, p := range next.Deadlines {
			cancels = append(cancels, effect(EffectCancel, p.ID, p.Name, nil, nil))
		}
		next.Deadlines = nil
	}
	slices.SortStableFunc(next.Deadlines, func(a, b PendingDeadline) int { return a.At.Compare(b.At) })
	next.Handled = append(next.Handled, Handled{ID: msg.ID, Kind: msg.Kind, Type: msg.Type, Sequence: msg.Sequence, At: now, Step: next.Steps})
	next.Handled = pruneHandled(next.Handled, history, ackFloor)
	effects := append(append(cancels, sets...), commands...)
	next.Pending = append(next.Pending, effects...)
	return next, effects, nil
}

// encodeBody encodes a command body or deadline payload as JSON.
func encodeBody(v any) (json.RawMessage, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if !json.Valid(b) {
			return nil, fmt.Errorf("json.RawMessage is not JSON")
		}
		return b, nil
	case []byte:
		if !json.Valid(b) {
			return nil, fmt.Errorf("[]byte body is not JSON")
		}
		return b, nil
	}
	return json.Marshal(v)
}

// checkCommandName checks "<aggregate type>.<command>".
func checkCommandName(name string) error {
	a, b, ok := strings.Cut(name, ".")
	if !ok || a == "" || b == "" || strings.Contains(b, ".") || strings.ContainsAny(name, "*> \t\r\n") {
		return fmt.Errorf("name %q: want <aggregate type>.<command>, e.g. order.cancel", name)
	}
	return nil
}

// maxHandled bounds a record's Handled list whatever the ack floor (a
// consumer stalled behind a message in retry keeps its floor low).
const maxHandled = 1000

// pruneHandled drops the oldest entries beyond history that can never be
// delivered again: deadlines (a fired deadline runs only while its id is
// pending in the record) and events at or below the event consumer's ack
// floor, which JetStream never redelivers. An event above the floor may
// still come again after its ack wait, so it stays (up to maxHandled) and
// its redelivery is recognised however many messages came since.
func pruneHandled(hs []Handled, history int, ackFloor uint64) []Handled {
	over := len(hs) - max(history, 1)
	if over <= 0 {
		return hs
	}
	force := len(hs) - max(history, maxHandled)
	out := make([]Handled, 0, len(hs)-over)
	for i, h := range hs {
		if over > 0 && (i < force || h.Kind == KindDeadline || h.Sequence <= ackFloor) {
			over--
			continue
		}
		out = append(out, h)
	}
	return out
}
