package aggregates

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/jetflow/jetflow/streams"
)

// ErrCommandIDReused is returned for an idempotent command whose ID was
// already used for a different command on the aggregate (409).
var ErrCommandIDReused = errors.New("command id already used for a different command")

// CommandIDReusedError says which command id was reused, and for what.
type CommandIDReusedError struct {
	CommandID string
	// Command is the refused command's name ("user.create").
	Command string
	// Earlier is the name of the command the id was used for, "" when the
	// aggregate knows only that it was a different command or body.
	Earlier string
}

// earlier describes the command the id was used for, as the reply says it.
func (e *CommandIDReusedError) earlier() string {
	switch {
	case e.Earlier == "":
		return "another command, or this one with another body"
	case e.Earlier == e.Command:
		return e.Earlier + " with another body"
	}
	return e.Earlier
}

func (e *CommandIDReusedError) Error() string {
	return fmt.Sprintf("aggregates: command id %s was already used for a different command (%s)", e.CommandID, e.earlier())
}

func (e *CommandIDReusedError) Unwrap() error { return ErrCommandIDReused }

// Fingerprint identifies what a command asks: its wire name
// ("user.create"), the aggregate it targets and its body. It is the
// truncated SHA-256 (128 bits) of the three, unpadded base64url (22
// characters). The command service passes the body in canonical form (the
// decoded command encoded again, see canonicalBody), so the same
// parameters in another key order or spacing are the same command.
func Fingerprint(command, aggregateID string, body []byte) string {
	h := sha256.New()
	h.Write([]byte("jetflow-command-v1\x00"))
	h.Write([]byte(command))
	h.Write([]byte{0})
	h.Write([]byte(aggregateID))
	h.Write([]byte{0})
	h.Write(body)
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:16])
}

// canonicalBody is the decoded command encoded again: what the handler
// sees, independent of key order, spacing, escapes and fields sent as null
// or their zero value where the command omits them. A command that does not
// encode falls back to the raw body, marked so the two never collide.
func canonicalBody(c any, raw []byte) []byte {
	b, err := json.Marshal(c)
	if err != nil {
		return append([]byte("raw\x00"), raw...)
	}
	return b
}

// eventIDNamespaceV2 roots the event ids of commands with a fingerprint.
var eventIDNamespaceV2 = uuid.MustParse("3d0f3c8e-5b7a-4e8f-9a61-2c4b7e9d1f05")

// eventID derives the id of event i of an idempotent command. With a
// fingerprint the id depends on it: a resend of the same command has the
// same ids (so the store deduplicates it), a different command under the
// same id has others, and the stored id tells which of the two a stored
// event was (see sameCommand). Without one (a caller of Execute that set
// none) it depends on the command id alone, as before fingerprints.
func (r *Repository[S]) eventID(id string, cmd Command, i int) string {
	if cmd.Fingerprint == "" {
		return legacyEventID(r.typ, id, cmd.ID, i)
	}
	return uuid.NewSHA1(eventIDNamespaceV2, []byte(r.typ+"\x00"+id+"\x00"+cmd.ID+"\x00"+cmd.Fingerprint+"\x00"+strconv.Itoa(i))).String()
}

func legacyEventID(typ, id, commandID string, i int) string {
	return uuid.NewSHA1(eventIDNamespace, []byte(typ+"\x00"+id+"\x00"+commandID+"\x00"+strconv.Itoa(i))).String()
}

// sameCommand reports whether cmd is a resend of the command whose result
// done is. A result that records no fingerprint (learned from the events
// on a load, or from a snapshot written before fingerprints) is judged by
// its last stored event: its id derives from the fingerprint. A missing
// fingerprint on either side, or a stored event from before fingerprints,
// is unknown and taken as a resend, as before fingerprints.
func (r *Repository[S]) sameCommand(ctx context.Context, inst *Instance[S], done CommandResult, cmd Command) (bool, error) {
	switch {
	case cmd.Fingerprint == "":
		return true, nil
	case done.Fingerprint != "":
		return done.Fingerprint == cmd.Fingerprint, nil
	case done.Sequence == 0:
		return true, nil
	}
	var last streams.Event
	for ev, err := range r.store.Load(ctx, r.typ, inst.ID, done.Sequence-1) {
		if err != nil {
			return false, fmt.Errorf("aggregates: read the event of command %s: %w", cmd.ID, err)
		}
		last = ev
		break
	}
	if last.Sequence != done.Sequence || last.Metadata.CausationID != cmd.ID {
		return true, nil // a result with no event of its own: a no-op
	}
	// The event is the command's last; its index in the command is unknown
	// but below its version and the largest append.
	for i := range min(last.Version, streams.MaxBatchEvents) {
		switch last.ID {
		case r.eventID(inst.ID, cmd, int(i)):
			done.Command, done.Fingerprint = cmd.Name, cmd.Fingerprint
			inst.remember(done) // known from now on, and in the next snapshot
			return true, nil
		case legacyEventID(r.typ, inst.ID, cmd.ID, int(i)):
			return true, nil
		}
	}
	return false, nil
}
