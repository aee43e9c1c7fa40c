package processes

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/jetflow/jetflow/wire"
)

// Wire names of process managers (docs/processes.md). Every one is the
// default of a Config field, or derived from the manager's name.
const (
	// BucketPrefix starts the KV bucket of a manager's instances:
	// proc_<name>, key = the instance key (InstanceKey).
	BucketPrefix = "proc_"
	// DefaultDeadlineTopic is the topic deadlines are scheduled on: key
	// <process>.<instance key>.<deadline id>.
	DefaultDeadlineTopic = "deadlines"
	// ConsumerPrefix starts the durable consumers of a manager: process_<name>
	// on the event stream, and on the deadline topic.
	ConsumerPrefix = "process_"
	// MaxNameLen bounds a manager's name (it names a bucket and consumers).
	MaxNameLen = 48
	// MaxInstanceIDLen bounds an instance id.
	MaxInstanceIDLen = 256
)

// Headers of process records and deadline messages.
const (
	// HeaderStatus is on every record of an instance bucket: running or
	// ended, so that counting them reads headers only.
	HeaderStatus = "Jetflow-Process-Status"
	// HeaderProcess, HeaderInstance, HeaderDeadline and HeaderDeadlineID are
	// on a deadline's message: the manager, the instance id, the deadline's
	// name and its id (one per time a deadline is set).
	HeaderProcess    = "Jetflow-Process"
	HeaderInstance   = "Jetflow-Process-Instance"
	HeaderDeadline   = "Jetflow-Deadline"
	HeaderDeadlineID = "Jetflow-Deadline-Id"
)

// Instance statuses, as records and HeaderStatus spell them.
const (
	StatusRunning = "running"
	StatusEnded   = "ended"
)

// ValidateName checks a manager's name: 1–48 lower-case letters, digits,
// '_' and '-', starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: a process needs a name", ErrInvalidDefinition)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: process name %q is %d bytes, at most %d", ErrInvalidDefinition, name, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("%w: process name %q: character %q at %d not allowed (lower-case letters, digits, '_' and '-'; first a letter or digit)",
				ErrInvalidDefinition, name, rune(c), i)
		}
	}
	return nil
}

// Bucket is the default bucket of the manager name: proc_<name>.
func Bucket(name string) string { return BucketPrefix + name }

// ValidateInstanceID checks an instance id: 1–256 bytes of UTF-8 with a
// visible character and no control character (it travels in headers).
func ValidateInstanceID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty instance id", ErrInvalidInstance)
	case len(id) > MaxInstanceIDLen:
		return fmt.Errorf("%w: instance id of %d bytes, at most %d", ErrInvalidInstance, len(id), MaxInstanceIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: instance id %q is not UTF-8", ErrInvalidInstance, id)
	case wire.HasControl(id):
		return fmt.Errorf("%w: instance id %q holds a control character", ErrInvalidInstance, id)
	case strings.TrimSpace(id) != id:
		return fmt.Errorf("%w: instance id %q has blanks around it (headers lose them)", ErrInvalidInstance, id)
	}
	return nil
}

// encodedKey starts an instance key that had to be encoded; a plain key
// never starts with it.
const encodedKey = "="

// InstanceKey is the KV key and subject token of an instance id: the id
// itself when it is made of a-z, A-Z, 0-9, '-' and '_', else "=" and the
// id in unpadded base64url.
func InstanceKey(id string) string {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return encodedKey + base64.RawURLEncoding.EncodeToString([]byte(id))
		}
	}
	return id
}

// InstanceID is the id of an instance key (InstanceKey's inverse).
func InstanceID(key string) (string, error) {
	if rest, ok := strings.CutPrefix(key, encodedKey); ok {
		b, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil {
			return "", fmt.Errorf("%w: key %q: %v", ErrInvalidInstance, key, err)
		}
		id := string(b)
		if InstanceKey(id) != key {
			return "", fmt.Errorf("%w: key %q is not an encoded id", ErrInvalidInstance, key)
		}
		return id, nil
	}
	if key == "" || InstanceKey(key) != key {
		return "", fmt.Errorf("%w: key %q", ErrInvalidInstance, key)
	}
	return key, nil
}

// idNamespace derives command and deadline ids (UUIDv5), so that handling
// the same message again gives the same ids.
var idNamespace = uuid.MustParse("5b3c1f0e-8d2a-4c6b-9e71-0a4f2d8c3b19")

// CommandID is the Jetflow-Command-Id of the i-th command (0-based) sent
// by process for instance when it handled the message msgID (an event's
// id, or a deadline's): the command service's idempotency makes a resend
// harmless.
func CommandID(process, instance, msgID string, i int) string {
	return uuid.NewSHA1(idNamespace, fmt.Appendf(nil, "command\x00%s\x00%s\x00%s\x00%d", process, instance, msgID, i)).String()
}

// deadlineID is the id of the i-th deadline set by handling msgID.
func deadlineID(process, instance, msgID string, i int) string {
	return uuid.NewSHA1(idNamespace, fmt.Appendf(nil, "deadline\x00%s\x00%s\x00%s\x00%d", process, instance, msgID, i)).String()
}

// deadlineKey is the key of a deadline's message on the deadline topic,
// also its schedule id: one schedule per deadline id, so that a late
// schedule of a replaced deadline never replaces the newer one.
func deadlineKey(process, instance, id string) string {
	return process + "." + InstanceKey(instance) + "." + id
}
