package consumers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// Operator compares a payload field with a filter's value.
type Operator string

// The filter operators.
const (
	OpEquals      Operator = "equals"
	OpNotEquals   Operator = "not_equals"
	OpContains    Operator = "contains"
	OpGreaterThan Operator = "greater_than"
	OpLessThan    Operator = "less_than"
)

func (o Operator) valid() bool {
	switch o {
	case OpEquals, OpNotEquals, OpContains, OpGreaterThan, OpLessThan:
		return true
	}
	return false
}

// Filter selects messages by a field of their JSON payload. A message a
// subscription's filters reject is acknowledged and counted, never handed to
// the handler and never dead-lettered.
//
// Semantics, chosen to never coerce types:
//   - Field is a dotted path into the JSON object; a numeric token indexes an
//     array ("items.0.sku").
//   - numbers compare as numbers (1 equals 1.0), strings as strings
//     (byte-wise for greater_than/less_than), booleans and null by equality;
//     a number never equals a string ("1" is not 1).
//   - contains: a string field contains the value as a substring; an array
//     field contains an element equal to the value.
//   - greater_than/less_than on mismatched or non-ordered types reject.
//   - A missing field rejects every operator except not_equals, which
//     accepts (an absent field is not equal to anything).
//   - A payload that is not valid JSON rejects every filter.
type Filter struct {
	Field    string   `json:"field"`
	Operator Operator `json:"operator"`
	// Value is a JSON scalar: string, number (json.Number or any Go number),
	// bool or nil.
	Value any `json:"value"`
}

// scalar is a decoded JSON scalar, typed for comparison.
type scalar struct {
	kind byte // 's' string, 'n' number, 'b' bool, 'z' null
	s    string
	n    json.Number
	b    bool
}

// compiled is a validated filter ready to evaluate.
type compiled struct {
	path []string
	op   Operator
	val  scalar
}

// Validate checks the filter.
func (f Filter) Validate() error {
	_, err := f.compile()
	return err
}

func (f Filter) compile() (compiled, error) {
	c := compiled{op: f.Operator}
	if err := validateFieldPath(f.Field); err != nil {
		return c, err
	}
	c.path = strings.Split(f.Field, ".")
	if !f.Operator.valid() {
		return c, fmt.Errorf("%w: operator %q: want equals, not_equals, contains, greater_than or less_than", ErrInvalidFilter, f.Operator)
	}
	v, err := toScalar(f.Value)
	if err != nil {
		return c, err
	}
	if (c.op == OpGreaterThan || c.op == OpLessThan) && v.kind != 'n' && v.kind != 's' {
		return c, fmt.Errorf("%w: %s needs a number or a string, not %s", ErrInvalidFilter, c.op, kindName(v.kind))
	}
	c.val = v
	return c, nil
}

func validateFieldPath(field string) error {
	if field == "" {
		return fmt.Errorf("%w: field must not be empty", ErrInvalidFilter)
	}
	for tok := range strings.SplitSeq(field, ".") {
		if tok == "" {
			return fmt.Errorf("%w: field %q has an empty path segment", ErrInvalidFilter, truncate(field))
		}
		if strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			return fmt.Errorf("%w: field %q must not contain whitespace or control characters", ErrInvalidFilter, truncate(field))
		}
	}
	return nil
}

func toScalar(v any) (scalar, error) {
	switch x := v.(type) {
	case nil:
		return scalar{kind: 'z'}, nil
	case string:
		return scalar{kind: 's', s: x}, nil
	case bool:
		return scalar{kind: 'b', b: x}, nil
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil && !errors.Is(err, strconv.ErrRange) {
			return scalar{}, fmt.Errorf("%w: value %q is not a number", ErrInvalidFilter, string(x))
		}
		return scalar{kind: 'n', n: x}, nil
	case float64:
		return scalar{kind: 'n', n: json.Number(strconv.FormatFloat(x, 'g', -1, 64))}, nil
	case float32:
		return scalar{kind: 'n', n: json.Number(strconv.FormatFloat(float64(x), 'g', -1, 32))}, nil
	case int:
		return scalar{kind: 'n', n: json.Number(strconv.Itoa(x))}, nil
	case int64:
		return scalar{kind: 'n', n: json.Number(strconv.FormatInt(x, 10))}, nil
	case int32:
		return scalar{kind: 'n', n: json.Number(strconv.FormatInt(int64(x), 10))}, nil
	case int16:
		return scalar{kind: 'n', n: json.Number(strconv.FormatInt(int64(x), 10))}, nil
	case int8:
		return scalar{kind: 'n', n: json.Number(strconv.FormatInt(int64(x), 10))}, nil
	case uint:
		return scalar{kind: 'n', n: json.Number(strconv.FormatUint(uint64(x), 10))}, nil
	case uint64:
		return scalar{kind: 'n', n: json.Number(strconv.FormatUint(x, 10))}, nil
	case uint32:
		return scalar{kind: 'n', n: json.Number(strconv.FormatUint(uint64(x), 10))}, nil
	case uint16:
		return scalar{kind: 'n', n: json.Number(strconv.FormatUint(uint64(x), 10))}, nil
	case uint8:
		return scalar{kind: 'n', n: json.Number(strconv.FormatUint(uint64(x), 10))}, nil
	}
	return scalar{}, fmt.Errorf("%w: value of type %T: want a string, number, boolean or null", ErrInvalidFilter, v)
}

func kindName(k byte) string {
	switch k {
	case 's':
		return "a string"
	case 'n':
		return "a number"
	case 'b':
		return "a boolean"
	case 'z':
		return "null"
	}
	return "an object or array"
}

// UnmarshalJSON decodes {"field":…, "operator":…, "value":…} keeping numbers
// exact, and validates the result.
func (f *Filter) UnmarshalJSON(b []byte) error {
	var raw struct {
		Field    string          `json:"field"`
		Operator Operator        `json:"operator"`
		Value    json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidFilter, err)
	}
	var v any
	if len(raw.Value) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw.Value))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return fmt.Errorf("%w: value: %w", ErrInvalidFilter, err)
		}
	}
	nf := Filter{Field: raw.Field, Operator: raw.Operator, Value: v}
	if err := nf.Validate(); err != nil {
		return err
	}
	*f = nf
	return nil
}

// ParseFilter parses the text form `<field> <operator> <value>`, as flags
// take it: the value is a JSON literal (42, 1.5, "text", true, false, null)
// or, when it is not one, the rest of the line as a string.
//
//	amount greater_than 100
//	customer.tier equals gold
//	tags contains "vip customer"
func ParseFilter(s string) (Filter, error) {
	rest := strings.TrimSpace(s)
	field, rest, ok := cutSpace(rest)
	if !ok {
		return Filter{}, fmt.Errorf("%w %q: want `<field> <operator> <value>`", ErrInvalidFilter, truncate(s))
	}
	op, rest, _ := cutSpace(rest)
	if rest == "" {
		return Filter{}, fmt.Errorf("%w %q: missing value; want `<field> <operator> <value>`", ErrInvalidFilter, truncate(s))
	}
	f := Filter{Field: field, Operator: Operator(op), Value: parseLiteral(rest)}
	if err := f.Validate(); err != nil {
		return Filter{}, err
	}
	return f, nil
}

func cutSpace(s string) (before, after string, ok bool) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, "", false
	}
	return s[:i], strings.TrimSpace(s[i:]), true
}

func parseLiteral(s string) any {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return s
	}
	switch v.(type) {
	case map[string]any, []any:
		return s
	}
	// Decode stops after one literal: anything but the end of input after
	// it means the text was not one literal ("1 2", "true story").
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return s
	}
	return v
}

// String returns the text form ParseFilter reads.
func (f Filter) String() string {
	var v string
	switch x := f.Value.(type) {
	case string:
		b, _ := json.Marshal(x)
		v = string(b)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			v = fmt.Sprint(x)
		} else {
			v = string(b)
		}
	}
	return f.Field + " " + string(f.Operator) + " " + v
}

// Filters is a conjunction: a payload passes when every filter accepts it.
type Filters struct {
	list []compiled
}

// CompileFilters validates fs for evaluation.
func CompileFilters(fs []Filter) (Filters, error) {
	var out Filters
	var errs []error
	for i, f := range fs {
		c, err := f.compile()
		if err != nil {
			errs = append(errs, fmt.Errorf("filter %d: %w", i, err))
			continue
		}
		out.list = append(out.list, c)
	}
	return out, errors.Join(errs...)
}

// Empty reports whether there is nothing to filter on.
func (fs Filters) Empty() bool { return len(fs.list) == 0 }

// Match reports whether payload passes every filter. The payload is decoded
// once for all of them.
func (fs Filters) Match(payload []byte) bool {
	if len(fs.list) == 0 {
		return true
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return false
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return false // trailing data: not one JSON document
	}
	for _, c := range fs.list {
		if !c.eval(doc) {
			return false
		}
	}
	return true
}

// Match reports whether payload passes this one filter; an invalid filter
// matches nothing.
func (f Filter) Match(payload []byte) bool {
	fs, err := CompileFilters([]Filter{f})
	if err != nil {
		return false
	}
	return fs.Match(payload)
}

func (c compiled) eval(doc any) bool {
	field, ok := lookup(doc, c.path)
	if !ok {
		return c.op == OpNotEquals
	}
	switch c.op {
	case OpEquals:
		return equalScalar(field, c.val)
	case OpNotEquals:
		return !equalScalar(field, c.val)
	case OpContains:
		switch x := field.(type) {
		case string:
			return c.val.kind == 's' && strings.Contains(x, c.val.s)
		case []any:
			for _, e := range x {
				if equalScalar(e, c.val) {
					return true
				}
			}
		}
		return false
	case OpGreaterThan, OpLessThan:
		cmp, ok := compareScalar(field, c.val)
		if !ok {
			return false
		}
		if c.op == OpGreaterThan {
			return cmp > 0
		}
		return cmp < 0
	}
	return false
}

func lookup(doc any, path []string) (any, bool) {
	cur := doc
	for _, tok := range path {
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func equalScalar(field any, v scalar) bool {
	switch x := field.(type) {
	case string:
		return v.kind == 's' && x == v.s
	case json.Number:
		if v.kind != 'n' {
			return false
		}
		cmp, ok := compareNumbers(x, v.n)
		return ok && cmp == 0
	case bool:
		return v.kind == 'b' && x == v.b
	case nil:
		return v.kind == 'z'
	}
	return false // objects and arrays equal no scalar
}

func compareScalar(field any, v scalar) (int, bool) {
	switch x := field.(type) {
	case string:
		if v.kind != 's' {
			return 0, false
		}
		return strings.Compare(x, v.s), true
	case json.Number:
		if v.kind != 'n' {
			return 0, false
		}
		return compareNumbers(x, v.n)
	}
	return 0, false
}

// compareNumbers compares exactly when both are integers that fit in
// int64, as float64 otherwise (out-of-range values become ±Inf).
func compareNumbers(a, b json.Number) (int, bool) {
	if ai, err := strconv.ParseInt(string(a), 10, 64); err == nil {
		if bi, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			switch {
			case ai < bi:
				return -1, true
			case ai > bi:
				return 1, true
			}
			return 0, true
		}
	}
	af, err := strconv.ParseFloat(string(a), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	bf, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	switch {
	case af < bf:
		return -1, true
	case af > bf:
		return 1, true
	case af == bf:
		return 0, true
	}
	return 0, false // NaN cannot come from JSON, but never claim an order
}
