package aggregates

import (
	"fmt"

	"github.com/jetflow/jetflow/streams"
)

// maxRecentCommands bounds how many command results an aggregate remembers
// for idempotent resends.
const maxRecentCommands = 64

// CommandResult is what a command did to its aggregate.
type CommandResult struct {
	CommandID string `json:"command_id"`
	Version   uint64 `json:"version"`
	Sequence  uint64 `json:"sequence"`
	// Command and Fingerprint say what the command was (its name and its
	// Fingerprint) when it ran here or came from a snapshot; a result
	// learned from the events, or from a snapshot written before
	// fingerprints, has neither.
	Command     string `json:"command,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Instance is a loaded aggregate: its state and where it stands.
type Instance[S State] struct {
	ID    string
	State S
	// Position is the last event's stream sequence and the version.
	Position streams.Position
	recent   []CommandResult
}

// Exists reports whether the aggregate has any event.
func (in *Instance[S]) Exists() bool { return in.Position.Version > 0 }

// apply evolves the instance by one stored event, the one after its
// version: a history with a gap or a repeated version is refused rather
// than decided on.
func (in *Instance[S]) apply(ev streams.Event) error {
	if ev.Version != in.Position.Version+1 {
		return fmt.Errorf("event %s at sequence %d has version %d, the aggregate is at version %d: the stored history is not contiguous",
			ev.ID, ev.Sequence, ev.Version, in.Position.Version)
	}
	if err := in.State.Apply(ev); err != nil {
		return err
	}
	in.Position = ev.Position()
	if ev.Metadata.CausationID != "" {
		in.remember(CommandResult{CommandID: ev.Metadata.CausationID, Version: ev.Version, Sequence: ev.Sequence})
	}
	return nil
}

func (in *Instance[S]) remember(r CommandResult) {
	for i := range in.recent {
		if in.recent[i].CommandID == r.CommandID {
			in.recent[i] = r
			return
		}
	}
	if len(in.recent) == maxRecentCommands {
		in.recent = append(in.recent[:0], in.recent[1:]...)
	}
	in.recent = append(in.recent, r)
}

// handled returns the result of an earlier command with this id.
func (in *Instance[S]) handled(commandID string) (CommandResult, bool) {
	for _, r := range in.recent {
		if r.CommandID == commandID {
			return r, true
		}
	}
	return CommandResult{}, false
}
