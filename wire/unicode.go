package wire

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrInvalidUnicode matches a request body that holds invalid UTF-8 or a
// \u escape of a lone UTF-16 surrogate. encoding/json would turn either
// into U+FFFD without a word, so two different ids (or usernames, or event
// data) would become the same one.
var ErrInvalidUnicode = errors.New("invalid Unicode")

// UnicodeError says where a body's text is not Unicode.
type UnicodeError struct {
	// Offset is the byte of the body where the problem starts (0-based).
	Offset int
	// Field is the top-level field whose name or value holds it, or "".
	Field string
	// Escape is the lone surrogate's escape as sent, e.g. `\ud800`; empty
	// for invalid UTF-8.
	Escape string
}

func (e *UnicodeError) Error() string {
	if e.Escape == "" {
		if e.Field != "" {
			return fmt.Sprintf("request body is not valid UTF-8 at byte %d (field %q)", e.Offset, e.Field)
		}
		return fmt.Sprintf("request body is not valid UTF-8 at byte %d", e.Offset)
	}
	if e.Field != "" {
		return fmt.Sprintf("field %q: lone surrogate %s at byte %d (a surrogate escape must be a high one, \\ud800-\\udbff, followed by a low one, \\udc00-\\udfff)", e.Field, e.Escape, e.Offset)
	}
	return fmt.Sprintf("lone surrogate %s at byte %d (a surrogate escape must be a high one, \\ud800-\\udbff, followed by a low one, \\udc00-\\udfff)", e.Escape, e.Offset)
}

// Unwrap makes the error match ErrInvalidUnicode.
func (e *UnicodeError) Unwrap() error { return ErrInvalidUnicode }

var escapeU = []byte(`\u`)

// checkUnicode refuses invalid UTF-8 anywhere in data and lone surrogate
// escapes in its strings. The common body (valid UTF-8, no \u escape)
// costs one pass of utf8.Valid.
func checkUnicode(data []byte) error {
	if utf8.Valid(data) && !bytes.Contains(data, escapeU) {
		return nil
	}
	return scanUnicode(data)
}

// scanUnicode finds the first problem, following the JSON far enough to
// name the top-level field it is in. Syntax it cannot follow is left to
// the decoder.
func scanUnicode(data []byte) error {
	depth, expectKey := 0, false
	field := ""
	for i := 0; i < len(data); {
		c := data[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return &UnicodeError{Offset: i, Field: field}
			}
			i += size
			continue
		}
		switch c {
		case '"':
			isKey := depth == 1 && expectKey
			start := i + 1
			in := field
			if isKey {
				in = "" // the name itself is bad: it names no field
			}
			end, err := scanString(data, start, in)
			if err != nil {
				return err
			}
			if isKey {
				field = string(data[start:end])
				expectKey = false
			}
			i = end + 1
			continue
		case '{', '[':
			depth++
			expectKey = depth == 1 && c == '{'
		case '}', ']':
			depth--
			if depth == 0 {
				field = ""
			}
		case ',':
			expectKey = depth == 1
		}
		i++
	}
	return nil
}

// scanString checks the string whose contents start at data[i] and
// returns the index of its closing quote (len(data) when unterminated).
func scanString(data []byte, i int, field string) (int, error) {
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			return i, nil
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, &UnicodeError{Offset: i, Field: field}
			}
			i += size
		case c == '\\' && i+1 < len(data) && data[i+1] == 'u':
			r, ok := hex4(data, i+2)
			switch {
			case !ok:
				i += 2 // malformed: the decoder says so
			case r >= 0xdc00 && r <= 0xdfff:
				return 0, &UnicodeError{Offset: i, Field: field, Escape: string(data[i : i+6])}
			case r >= 0xd800 && r <= 0xdbff:
				low, ok := rune(0), false
				if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					low, ok = hex4(data, i+8)
				}
				if !ok || low < 0xdc00 || low > 0xdfff {
					return 0, &UnicodeError{Offset: i, Field: field, Escape: string(data[i : i+6])}
				}
				i += 12
			default:
				i += 6
			}
		case c == '\\':
			i += 2
		default:
			i++
		}
	}
	return len(data), nil
}

// hex4 reads the four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
