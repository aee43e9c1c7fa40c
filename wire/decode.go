package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
)

// DecodeStrict decodes one JSON object into v, refusing anything but an
// object, unknown fields, field names in another case than v's (which
// encoding/json would take), a field given twice and anything after the
// object, with an error a client can act on. Text that is not Unicode
// (invalid UTF-8, a lone surrogate escape) is refused with a *UnicodeError
// rather than turned into U+FFFD, in every field: the decoder would
// otherwise make different requests equal.
func DecodeStrict(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return errors.New("request body is empty; send a JSON object")
	}
	if trimmed[0] != '{' {
		return errors.New("request must be a JSON object")
	}
	if err := checkUnicode(data); err != nil {
		return err
	}
	if err := checkKeys(trimmed, v); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("request body has data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return fmt.Errorf("field %q must be %s, got %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
		}
		return fmt.Errorf("request must be a JSON object, got %s", typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("malformed JSON: unexpected end of input")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return fmt.Errorf("malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind says what JSON a Go type takes, as a client should read it.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer (%d bits)", t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a whole number from 0 (%d bits)", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value of another kind"
}

// checkKeys refuses top-level keys that are not exactly one of v's JSON
// field names, or that repeat. It scans the bytes rather than tokenizing
// (this runs on every command); a body it cannot follow is left to the
// decoder, which says where it breaks.
func checkKeys(data []byte, v any) error {
	names := fieldNames(reflect.TypeOf(v))
	if names == nil {
		return nil
	}
	var seen []bool
	return forEachKey(data, func(raw []byte, escaped bool) error {
		idx, ok := names[string(raw)] // no copy for a lookup
		if escaped {
			var key string
			if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &key); err != nil {
				return nil
			}
			idx, ok = names[key]
		}
		if !ok {
			key := string(raw)
			for name := range names {
				if strings.EqualFold(name, key) {
					return fmt.Errorf("unknown field %q (names are case-sensitive: %q)", key, name)
				}
			}
			return fmt.Errorf("unknown field %q", key)
		}
		if seen == nil {
			seen = make([]bool, len(names))
		}
		if seen[idx] {
			return fmt.Errorf("field %q given twice", string(raw))
		}
		seen[idx] = true
		return nil
	})
}

// forEachKey calls fn with each key of the object data starts with (raw,
// between its quotes). It stops at fn's first error, or quietly where the
// object is malformed.
func forEachKey(data []byte, fn func(raw []byte, escaped bool) error) error {
	depth, expectKey := 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			start, escaped := i+1, false
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					escaped = true
					i++
				}
			}
			if i >= len(data) {
				return nil
			}
			if depth == 1 && expectKey {
				if err := fn(data[start:i], escaped); err != nil {
					return err
				}
				expectKey = false
			}
		case '{', '[':
			depth++
			expectKey = depth == 1
		case '}', ']':
			depth--
			if depth == 0 {
				return nil
			}
		case ',':
			expectKey = depth == 1
		}
	}
	return nil
}

var fieldNameCache sync.Map // reflect.Type → map[string]int

// fieldNames returns the JSON names of a struct's fields (t a pointer to
// it), each with its own index, or nil for anything else.
func fieldNames(t reflect.Type) map[string]int {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	if t.Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return nil // it decides its own keys
	}
	if cached, ok := fieldNameCache.Load(t); ok {
		return cached.(map[string]int)
	}
	names := map[string]int{}
	addFieldNames(t.Elem(), names)
	fieldNameCache.Store(t, names)
	return names
}

func addFieldNames(t reflect.Type, names map[string]int) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" && tag == "-":
			continue
		case f.Anonymous && name == "" && indirect(f.Type).Kind() == reflect.Struct:
			addFieldNames(indirect(f.Type), names) // embedded fields are promoted
			continue
		case !f.IsExported():
			continue
		case name == "":
			name = f.Name
		}
		if _, dup := names[name]; !dup {
			names[name] = len(names)
		}
	}
}

func indirect(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Pointer {
		return t.Elem()
	}
	return t
}
