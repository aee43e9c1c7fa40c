package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// assign stores v in the field ptr points to; def points to the same field
// of the section's defaults, which null restores. Text from the
// environment is converted to the field's type; typed values from a
// document must already have it. The error says what was expected and
// what was found, and the caller adds where.
func assign(ptr, def any, v value) error {
	if v.kind == kindNull {
		copyField(ptr, def)
		return nil
	}
	if v.kind == kindString && !utf8.ValidString(v.str) {
		return errors.New("value is not valid UTF-8")
	}
	switch p := ptr.(type) {
	case *string:
		if v.kind != kindString {
			return mismatch("a string", v)
		}
		*p = v.str
	case *int:
		n, err := toInt(v)
		if err != nil {
			return err
		}
		*p = n
	case *int64:
		n, err := toInt64(v)
		if err != nil {
			return err
		}
		*p = n
	case *float64:
		f, err := toFloat(v)
		if err != nil {
			return err
		}
		*p = f
	case *bool:
		b, err := toBool(v)
		if err != nil {
			return err
		}
		*p = b
	case *time.Duration:
		d, err := toDuration(v)
		if err != nil {
			return err
		}
		*p = d
	case *[]string:
		elems, err := toList(v)
		if err != nil {
			return err
		}
		var out []string // nil when empty, as in Default()
		for i, e := range elems {
			if e.kind != kindString {
				return &elemError{pos: e.pos, n: i + 1, err: mismatch("a string", e)}
			}
			if !utf8.ValidString(e.str) {
				return &elemError{pos: e.pos, n: i + 1, err: errors.New("value is not valid UTF-8")}
			}
			out = append(out, e.str)
		}
		*p = out
	case *[]time.Duration:
		elems, err := toList(v)
		if err != nil {
			return err
		}
		var out []time.Duration
		for i, e := range elems {
			d, err := toDuration(e)
			if err != nil {
				return &elemError{pos: e.pos, n: i + 1, err: err}
			}
			out = append(out, d)
		}
		*p = out
	case *any:
		s, err := toScalar(v)
		if err != nil {
			return err
		}
		*p = s
	default:
		return fmt.Errorf("internal: no conversion to %T", ptr)
	}
	return nil
}

// elemError is a problem with one element of an array; decoding points at
// the element rather than at the array.
type elemError struct {
	pos Pos
	n   int // 1-based
	err error
}

func (e *elemError) Error() string { return fmt.Sprintf("element %d: %v", e.n, e.err) }

func (e *elemError) Unwrap() error { return e.err }

func mismatch(want string, v value) error {
	return fmt.Errorf("expected %s, found %s", want, v.describe())
}

func toInt(v value) (int, error) {
	n, err := toInt64(v)
	if err != nil {
		return 0, err
	}
	if int64(int(n)) != n {
		return 0, fmt.Errorf("integer %d is out of range", n)
	}
	return int(n), nil
}

func toInt64(v value) (int64, error) {
	if v.kind == kindString && v.text {
		if n, ok, _ := parseNumber(strings.TrimSpace(v.str)); ok && n.kind == kindInt {
			v = n
		}
	}
	if v.kind != kindInt {
		return 0, mismatch("an integer", v)
	}
	return v.i, nil
}

// toFloat takes a float or an integer: a number key holds both, where an
// integer key refuses 3.0.
func toFloat(v value) (float64, error) {
	if v.kind == kindString && v.text {
		if n, ok, err := parseNumber(strings.TrimSpace(v.str)); ok && err == nil {
			v = n
		}
	}
	switch v.kind {
	case kindFloat:
		return v.f, nil
	case kindInt:
		return float64(v.i), nil
	}
	return 0, mismatch("a number", v)
}

func toBool(v value) (bool, error) {
	if v.kind == kindString && v.text {
		if b, err := strconv.ParseBool(strings.TrimSpace(v.str)); err == nil {
			return b, nil
		}
	}
	if v.kind != kindBool {
		return false, mismatch("true or false", v)
	}
	return v.b, nil
}

func toDuration(v value) (time.Duration, error) {
	if v.kind != kindString {
		return 0, mismatch(`a duration string such as "5s"`, v)
	}
	d, err := time.ParseDuration(strings.TrimSpace(v.str))
	if err != nil {
		return 0, fmt.Errorf(`expected a duration such as "500ms", "5s" or "1h30m", found %s`, v.describe())
	}
	return d, nil
}

// toList returns the elements of an array. Text from the environment is
// either an array literal ([a, b]) or comma-separated items.
func toList(v value) ([]value, error) {
	if v.kind == kindString && v.text {
		s := strings.TrimSpace(v.str)
		if strings.HasPrefix(s, "[") {
			parsed, err := parseText(s)
			if err != nil {
				if v.hidden {
					return nil, errors.New("invalid array (not shown: secret)")
				}
				return nil, fmt.Errorf("invalid array %q: %w", s, err)
			}
			if v.hidden {
				parsed = parsed.hide()
			}
			v = parsed
		} else {
			var elems []value
			for item := range strings.SplitSeq(s, ",") {
				if item = strings.TrimSpace(item); item != "" {
					elems = append(elems, value{kind: kindString, str: item, text: true, pos: v.pos})
				}
			}
			return elems, nil
		}
	}
	if v.kind != kindArray {
		return nil, mismatch("an array", v)
	}
	return v.elems, nil
}

// toScalar returns a string, int64, float64 or bool. Text from the
// environment is read as a TuskLang literal when it is one ("100" is a
// string, 100 a number, true a boolean) and as a plain string otherwise.
func toScalar(v value) (any, error) {
	if v.kind == kindString && v.text {
		if parsed, err := parseText(v.str); err == nil && parsed.kind != kindArray && parsed.kind != kindNull {
			v = parsed
		} else {
			return v.str, nil
		}
	}
	switch v.kind {
	case kindString:
		return v.str, nil
	case kindInt:
		return v.i, nil
	case kindFloat:
		return v.f, nil
	case kindBool:
		return v.b, nil
	}
	return nil, mismatch("a string, number or boolean", v)
}

// parseText reads one TuskLang value from text, such as an array given in
// an environment variable. Variables and @env are not available there.
func parseText(s string) (value, error) {
	p := &parser{lx: newLexer("", []byte(s)), vars: map[string]value{}}
	if err := p.advance(); err != nil {
		return value{}, err
	}
	if err := p.skipNewlines(); err != nil {
		return value{}, err
	}
	v, err := p.value()
	if err != nil {
		return value{}, err
	}
	if err := p.skipNewlines(); err != nil {
		return value{}, err
	}
	if p.tok.kind != tEOF {
		return value{}, p.errorf(p.tok.pos, "unexpected %s after the value", p.tok.describe())
	}
	return v, nil
}

// copyField sets *dst to *src for two pointers of the same field type.
// Slices are shared; nothing writes into a slice after it is stored.
func copyField(dst, src any) {
	switch d := dst.(type) {
	case *string:
		*d = *src.(*string)
	case *int:
		*d = *src.(*int)
	case *int64:
		*d = *src.(*int64)
	case *float64:
		*d = *src.(*float64)
	case *bool:
		*d = *src.(*bool)
	case *time.Duration:
		*d = *src.(*time.Duration)
	case *[]string:
		*d = *src.(*[]string)
	case *[]time.Duration:
		*d = *src.(*[]time.Duration)
	case *any:
		*d = *src.(*any)
	}
}
