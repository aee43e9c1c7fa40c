package streams

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jetflow/jetflow/wire"
)

// MaxNameBytes bounds aggregate ids and types.
const MaxNameBytes = 128

var (
	// ErrInvalidAggregateID is returned for an aggregate id that cannot be one subject token.
	ErrInvalidAggregateID = errors.New("streams: invalid aggregate id")
	// ErrInvalidAggregateType is returned for an aggregate type that cannot be one subject token.
	ErrInvalidAggregateType = errors.New("streams: invalid aggregate type")
	// ErrInvalidName is returned for an invalid stream, bucket or prefix name.
	ErrInvalidName = errors.New("streams: invalid name")
)

// ValidateAggregateID checks that id can stand as one subject token.
// An id must also show: one made only of invisible characters (format
// characters such as U+200B, combining marks, blank fillers) would be an
// id nobody can read or type back.
func ValidateAggregateID(id string) error {
	reason := tokenProblem(id)
	if reason == "" && invisible(id) {
		reason = "has no visible character (only invisible or format characters such as U+200B)"
	}
	if reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidAggregateID, truncate(id), reason)
	}
	return nil
}

// blanks are letters and symbols that render as nothing.
var blanks = []rune{'\u115f', '\u1160', '\u2800', '\u3164', '\uffa0'}

// invisible reports whether s is empty once its invisible characters are
// removed: format (Cf) and control (Cc) characters, separators (Z*),
// marks that only combine (Mn, Me) and blank fillers.
func invisible(s string) bool {
	for _, r := range s {
		if !unicode.In(r, unicode.Cf, unicode.Cc, unicode.Z, unicode.Mn, unicode.Me) && !slices.Contains(blanks, r) {
			return false
		}
	}
	return true
}

// validateStoredAggregateID is the subject-token rule alone: what events
// already in the store must meet to be read. Ids of invisible characters
// were accepted once; their events stay readable (projections, rebuilds),
// though no new event can be written under such an id.
func validateStoredAggregateID(id string) error {
	if reason := tokenProblem(id); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidAggregateID, truncate(id), reason)
	}
	return nil
}

// ValidateAggregateType checks that typ can stand as one subject token.
func ValidateAggregateType(typ string) error {
	if reason := tokenProblem(typ); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidAggregateType, truncate(typ), reason)
	}
	return nil
}

// tokenProblem says why s cannot be a subject token, or "" when it can.
func tokenProblem(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > MaxNameBytes:
		return fmt.Sprintf("is %d bytes, at most %d allowed", len(s), MaxNameBytes)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == '.':
			return "must not contain '.'"
		case r == '*':
			return "must not contain '*'"
		case r == '>':
			return "must not contain '>'"
		case unicode.IsSpace(r):
			return "must not contain whitespace"
		case unicode.IsControl(r):
			return "must not contain control characters"
		}
	}
	return ""
}

// ValidateStreamName checks a stream or bucket name.
func ValidateStreamName(name string) error {
	if reason := tokenProblem(name); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidName, truncate(name), reason)
	}
	if strings.ContainsAny(name, "/\\") {
		return fmt.Errorf("%w %q: must not contain '/' or '\\'", ErrInvalidName, name)
	}
	return nil
}

// ValidateBucketName checks a KV bucket name: letters, digits, '-' and '_'
// only (what the server's KV layer accepts).
func ValidateBucketName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: bucket name must not be empty", ErrInvalidName)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w %q: a bucket name may hold only letters, digits, '-' and '_'", ErrInvalidName, truncate(name))
		}
	}
	return nil
}

// ValidateSubjectPrefix checks a subject prefix such as "events" or
// "acme.events". Subjects the server or clients reserve ($JS, $KV, $SRV,
// $SYS, any $…, _INBOX and the services' _JETFLOW_INBOX) are refused.
func ValidateSubjectPrefix(prefix string) error {
	if prefix == "" {
		return fmt.Errorf("%w: subject prefix must not be empty", ErrInvalidName)
	}
	for tok := range strings.SplitSeq(prefix, ".") {
		if reason := tokenProblem(tok); reason != "" {
			return fmt.Errorf("%w %q: token %q %s", ErrInvalidName, prefix, tok, reason)
		}
	}
	first, _, _ := strings.Cut(prefix, ".")
	if wire.Reserved(first) {
		return fmt.Errorf("%w %q: %q is reserved for the server and clients", ErrInvalidName, prefix, first)
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
