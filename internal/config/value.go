package config

import (
	"strconv"
	"strings"
)

type valueKind int

const (
	kindNull valueKind = iota
	kindString
	kindInt
	kindFloat
	kindBool
	kindArray
)

// value is one parsed value with the position it came from, so decoding
// can point at it.
type value struct {
	kind  valueKind
	str   string
	i     int64
	f     float64
	b     bool
	elems []value
	pos   Pos
	// text marks a string that came from the environment (@env, JETFLOW_*,
	// flags): it has no type of its own, so decoding converts it to the
	// key's type instead of calling it a mismatch.
	text bool
	// hidden marks the value of a secret key: describe names its type only.
	hidden bool
}

// hide marks v (and its elements) as the value of a secret key: errors
// name its type, never the value itself.
func (v value) hide() value {
	v.hidden = true
	if len(v.elems) > 0 {
		elems := make([]value, len(v.elems))
		for i, e := range v.elems {
			elems[i] = e.hide()
		}
		v.elems = elems
	}
	return v
}

// describe names a value and its type in an error message.
func (v value) describe() string {
	if v.hidden {
		return v.describeHidden()
	}
	switch v.kind {
	case kindNull:
		return "null"
	case kindString:
		if v.text {
			return "text " + strconv.Quote(v.str)
		}
		return "string " + strconv.Quote(v.str)
	case kindInt:
		return "integer " + strconv.FormatInt(v.i, 10)
	case kindFloat:
		return "float " + formatFloat(v.f)
	case kindBool:
		return "boolean " + strconv.FormatBool(v.b)
	case kindArray:
		return "array"
	}
	return "value"
}

func (v value) describeHidden() string {
	const notShown = " (not shown: secret)"
	switch v.kind {
	case kindNull:
		return "null"
	case kindString:
		if v.text {
			return "text" + notShown
		}
		return "a string" + notShown
	case kindInt:
		return "an integer" + notShown
	case kindFloat:
		return "a float" + notShown
	case kindBool:
		return "a boolean" + notShown
	case kindArray:
		return "array"
	}
	return "value"
}

// numberSyntax reports whether s is a TuskLang number and whether it is a
// float: [+-]digits[.digits][(e|E)[+-]digits], with '_' allowed between
// digits for readability (10_000).
func numberSyntax(s string) (ok, isFloat bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '_' && i > start && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9') {
			i++
		}
		return i > start
	}
	if !digits() {
		return false, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		isFloat = true
		if !digits() {
			return false, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		isFloat = true
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false, false
		}
	}
	return i == len(s), isFloat
}

// parseNumber converts a word with number syntax; ok is false when the
// word is not a number, err set when it is one out of range.
func parseNumber(s string) (v value, ok bool, err error) {
	isNum, isFloat := numberSyntax(s)
	if !isNum {
		return value{}, false, nil
	}
	clean := strings.ReplaceAll(s, "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil {
			return value{}, true, err
		}
		return value{kind: kindFloat, f: f}, true, nil
	}
	n, err := strconv.ParseInt(clean, 10, 64)
	if err != nil {
		return value{}, true, err
	}
	return value{kind: kindInt, i: n}, true, nil
}

// formatFloat writes f so that it reads back as a float, never as an integer.
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}
