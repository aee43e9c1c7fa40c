package processes

import "errors"

var (
	// ErrInvalidDefinition reports a Definition that cannot run: no name,
	// no events, an event without handler, no event that starts.
	ErrInvalidDefinition = errors.New("processes: invalid definition")
	// ErrInvalidConfig reports a Config value out of range.
	ErrInvalidConfig = errors.New("processes: invalid configuration")
	// ErrInvalidInstance reports an instance id (or key) that cannot be one.
	ErrInvalidInstance = errors.New("processes: invalid instance id")
	// ErrAssociation reports an event whose instances cannot be read
	// (Field on data without the field): the event is dead-lettered.
	ErrAssociation = errors.New("processes: cannot associate the event with an instance")
	// ErrInvalidStep reports a handler's Step the manager cannot carry out:
	// a command without a proper name, a deadline with no handler, a body
	// that does not encode. The message is retried, then dead-lettered,
	// and the instance is left as it was.
	ErrInvalidStep = errors.New("processes: invalid step")
	// ErrHandlerPanicked is matched by the error of a handler that panicked.
	ErrHandlerPanicked = errors.New("processes: handler panicked")
	// ErrMalformedRecord reports an instance record that does not decode.
	ErrMalformedRecord = errors.New("processes: malformed instance record")
	// ErrInstanceNotFound is returned by Show for an instance the bucket
	// does not hold.
	ErrInstanceNotFound = errors.New("processes: instance not found")
	// ErrProcessNotFound is returned for a manager whose bucket does not exist.
	ErrProcessNotFound = errors.New("processes: no such process manager")
	// ErrStateConflicts is returned when an instance's state could not be
	// written after many compare-and-set retries (other writers won each
	// time); the message is retried.
	ErrStateConflicts = errors.New("processes: instance state kept changing under the handler")
	// ErrCommandFailed is returned when a command could not be delivered
	// (no service, timeout, 5xx): the message is retried, and the command
	// sent again with the same id.
	ErrCommandFailed = errors.New("processes: command not delivered")
)
