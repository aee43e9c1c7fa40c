package aggregates

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/jetflow/jetflow/streams"
)

// eventIDNamespace roots the event ids derived from command ids.
var eventIDNamespace = uuid.MustParse("6f1c1d6e-9a53-4c47-8f5e-1f0a3b7d2c11")

// Command carries what a command brings besides its payload.
type Command struct {
	// ID identifies the command and becomes its events' causation id.
	ID string
	// Idempotent makes resending the same ID return the first result
	// without writing again; set it when the client chose the ID.
	Idempotent bool
	// Name is the command's wire name ("user.create"), for messages.
	Name string
	// Fingerprint identifies what an idempotent command asks (see
	// Fingerprint). The same ID with another fingerprint is refused with a
	// *CommandIDReusedError; without one any command under the ID is taken
	// as a resend. The command service sets it.
	Fingerprint string
	// ExpectedVersion, when set, is the version the client based its
	// command on: a different version is a conflict, never retried.
	ExpectedVersion *uint64
	// New says the aggregate id was just generated, so there is nothing to
	// load.
	New bool
	// Metadata goes onto every event; its causation id is set to ID.
	Metadata streams.Metadata
}

// Outcome is the result of an executed command.
type Outcome struct {
	AggregateID string
	Version     uint64
	// Sequence is the stream sequence of the last event written, or of the
	// aggregate's last event when the command wrote none.
	Sequence uint64
	Events   []streams.Event
	// Duplicate reports a resent command answered from its first execution.
	Duplicate bool
}

// Decider decides a command against the aggregate's current state. It must
// not mutate the state: the repository applies the returned changes.
type Decider[S State] func(inst *Instance[S]) ([]Change, error)

// VersionMismatchError says which version the client expected.
type VersionMismatchError struct {
	Expected, Actual uint64
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("expected version %d, the aggregate is at version %d", e.Expected, e.Actual)
}

func (e *VersionMismatchError) Unwrap() error { return ErrVersionMismatch }

// Execute loads the aggregate (from the cache when it can), decides the
// command and appends its events with the expected sequence of the last
// loaded event. A conflict is retried with a fresh load and a new decision
// up to the configured count, unless cmd names an expected version.
func (r *Repository[S]) Execute(ctx context.Context, id string, cmd Command, decide Decider[S]) (Outcome, error) {
	if err := streams.ValidateAggregateID(id); err != nil {
		return Outcome{}, err
	}
	if cmd.Idempotent && cmd.ID == "" {
		return Outcome{}, errors.New("aggregates: an idempotent command needs an ID")
	}
	cmd.Metadata.CausationID = cmd.ID
	for attempt := 0; ; attempt++ {
		out, err := r.executeOnce(ctx, id, cmd, decide)
		if !errors.Is(err, streams.ErrConcurrencyConflict) {
			return out, err
		}
		r.opts.metrics.AppendConflict(r.typ)
		if cmd.ExpectedVersion != nil || attempt >= r.opts.conflictRetries || ctx.Err() != nil {
			return Outcome{}, err
		}
		r.opts.log.DebugContext(ctx, "concurrency conflict, deciding again", "aggregate_type", r.typ, "aggregate_id", id, "attempt", attempt+1)
		if attempt > 0 {
			// Writers that keep colliding on one aggregate (several
			// processes) spread out instead of retrying in lockstep.
			if err := sleepJitter(ctx, attempt); err != nil {
				return Outcome{}, err
			}
		}
	}
}

// sleepJitter waits a random time below min(2^attempt ms, 50 ms).
func sleepJitter(ctx context.Context, attempt int) error {
	ceiling := min(time.Millisecond<<min(attempt, 6), 50*time.Millisecond)
	t := time.NewTimer(rand.N(ceiling))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (r *Repository[S]) executeOnce(ctx context.Context, id string, cmd Command, decide Decider[S]) (out Outcome, err error) {
	e := r.cache.acquire(id)
	defer e.release()
	keep := false
	defer func() {
		// Anything but a clean finish may leave the cached state behind the
		// store (or half-applied): drop it so the next command reloads.
		if !keep {
			e.inst = nil
		}
	}()

	// current says the instance is known to match the store. A cached one
	// may be behind other processes' writes: an append is checked by the
	// store, but an answer that writes nothing (a refusal, a no-op, a
	// version mismatch) is given only after the instance has caught up.
	current := e.inst == nil
	switch {
	case current && cmd.New:
		e.inst = &Instance[S]{ID: id, State: r.newState()}
	case current:
		if e.inst, err = r.Load(ctx, id); err != nil {
			return Outcome{}, err
		}
	}
	inst := e.inst
	var changes []Change
	for {
		if cmd.Idempotent {
			if done, ok := inst.handled(cmd.ID); ok {
				same, err := r.sameCommand(ctx, inst, done, cmd)
				if err != nil {
					return Outcome{}, err
				}
				keep = true
				if !same {
					return Outcome{}, &CommandIDReusedError{CommandID: cmd.ID, Command: cmd.Name, Earlier: done.Command}
				}
				return Outcome{AggregateID: id, Version: done.Version, Sequence: done.Sequence, Duplicate: true}, nil
			}
		}
		var refusal error
		if cmd.ExpectedVersion != nil && *cmd.ExpectedVersion != inst.Position.Version {
			refusal = &VersionMismatchError{Expected: *cmd.ExpectedVersion, Actual: inst.Position.Version}
		} else {
			changes, refusal = decide(inst)
		}
		if refusal == nil && len(changes) > 0 {
			break
		}
		if !current {
			current = true
			moved, err := r.catchUp(ctx, inst)
			if err != nil {
				return Outcome{}, err
			}
			if moved {
				continue // decide again on the current state
			}
		}
		keep = true
		if refusal != nil {
			return Outcome{}, refusal
		}
		if cmd.Idempotent && inst.Exists() {
			// A resend must not be decided again once the state has moved:
			// the result goes into the snapshot, which every instance and a
			// restart load, as no event carries it.
			inst.remember(CommandResult{CommandID: cmd.ID, Version: inst.Position.Version, Sequence: inst.Position.Sequence, Command: cmd.Name, Fingerprint: cmd.Fingerprint})
			if r.snaps != nil {
				r.snapshot(ctx, inst, true)
			}
		}
		return Outcome{AggregateID: id, Version: inst.Position.Version, Sequence: inst.Position.Sequence}, nil
	}
	events, err := toEvents(changes, cmd.Metadata)
	if err != nil {
		return Outcome{}, err
	}
	if cmd.Idempotent {
		for i := range events {
			events[i].ID = r.eventID(id, cmd, i)
		}
	}
	before := inst.Position.Version
	res, err := r.appendSettled(ctx, id, inst.Position, events)
	var dup *streams.DuplicateEventError
	if cmd.Idempotent && errors.As(err, &dup) {
		// The event ids derive from the command id: this command was applied
		// earlier, further back than the results the aggregate remembers.
		keep = true // nothing was stored; the state is as loaded
		readErr := dup.ReadErr
		if dup.Version > 0 {
			first, ok, err := r.earlierResult(ctx, id, cmd.ID, dup.Sequence)
			if ok {
				return Outcome{AggregateID: id, Version: first.Version, Sequence: first.Sequence, Duplicate: true}, nil
			}
			readErr = err
		}
		if readErr != nil {
			// Applied, but its result could not be read now (a leader
			// change, a partition): a resend with the same id gets it once
			// the store answers, where a 409 would read as "not applied".
			return Outcome{}, &streams.OutcomeUnknownError{AggregateType: r.typ, AggregateID: id, After: inst.Position, Events: events,
				Cause: fmt.Errorf("command %s was applied earlier; reading its result failed: %w", cmd.ID, readErr)}
		}
		return Outcome{}, fmt.Errorf("%w: command %s was applied earlier and its result is no longer remembered: %w", ErrAlreadyApplied, cmd.ID, err)
	}
	if err != nil {
		return Outcome{}, err
	}
	r.opts.metrics.EventsAppended(r.typ, len(res.Events))
	for _, ev := range res.Events {
		if err := inst.apply(ev); err != nil {
			r.opts.log.ErrorContext(ctx, "stored event does not apply to the state", "aggregate_type", r.typ, "aggregate_id", id, "event_type", ev.Type, "error", err)
			return Outcome{AggregateID: id, Version: res.Version, Sequence: res.LastSequence, Events: res.Events}, nil
		}
	}
	keep = true
	out = Outcome{AggregateID: id, Version: res.Version, Sequence: res.LastSequence, Events: res.Events}
	if cmd.Idempotent {
		inst.remember(CommandResult{CommandID: cmd.ID, Version: res.Version, Sequence: res.LastSequence, Command: cmd.Name, Fingerprint: cmd.Fingerprint})
		// The store answers an append whose ids it finds right after the
		// position with the stored events: a lost ack of this very request,
		// or the same command stored by another request (another process)
		// since the load, which the correlation id tells apart.
		if len(res.Events) > 0 && res.Events[0].Metadata.CorrelationID != cmd.Metadata.CorrelationID {
			out.Duplicate, out.Events = true, nil
		}
	}
	if r.snapshotDue(before, inst.Position.Version) {
		r.snapshot(ctx, inst, false)
	}
	return out, nil
}

// earlierResult reads what command commandID wrote from stream sequence
// from on (its first event): its result is its last consecutive event.
func (r *Repository[S]) earlierResult(ctx context.Context, id, commandID string, from uint64) (CommandResult, bool, error) {
	var res CommandResult
	for ev, err := range r.store.Load(ctx, r.typ, id, from-1) {
		if err != nil {
			return res, false, err
		}
		if ev.Metadata.CausationID != commandID {
			break
		}
		res = CommandResult{CommandID: commandID, Version: ev.Version, Sequence: ev.Sequence}
	}
	return res, res.Version > 0, nil
}
