package consumers

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestFilterMatch(t *testing.T) {
	t.Parallel()
	const doc = `{"amount": 150, "price": 9.5, "big": 9007199254740993, "name": "alice", "code": "100",
		"vip": true, "note": null, "tags": ["a", "vip", 7], "customer": {"tier": "gold", "address": {"city": "Lyon"}},
		"items": [{"sku": "x1"}, {"sku": "x2"}]}`
	tests := []struct {
		name  string
		field string
		op    Operator
		value any
		want  bool
	}{
		{"number equals", "amount", OpEquals, json.Number("150"), true},
		{"number equals float form", "amount", OpEquals, 150.0, true},
		{"number not equal", "amount", OpEquals, 151, false},
		{"number vs string never equal", "amount", OpEquals, "150", false},
		{"string vs number never equal", "code", OpEquals, 100, false},
		{"string equals", "name", OpEquals, "alice", true},
		{"string case sensitive", "name", OpEquals, "Alice", false},
		{"bool equals", "vip", OpEquals, true, true},
		{"bool vs string", "vip", OpEquals, "true", false},
		{"null equals nil", "note", OpEquals, nil, true},
		{"null not equal string", "note", OpEquals, "null", false},
		{"nested path", "customer.tier", OpEquals, "gold", true},
		{"deep nested path", "customer.address.city", OpEquals, "Lyon", true},
		{"array index path", "items.1.sku", OpEquals, "x2", true},
		{"array index out of range", "items.5.sku", OpEquals, "x2", false},
		{"object equals nothing", "customer", OpEquals, "gold", false},
		{"not_equals different", "name", OpNotEquals, "bob", true},
		{"not_equals same", "name", OpNotEquals, "alice", false},
		{"not_equals type mismatch", "amount", OpNotEquals, "150", true},
		{"greater_than number", "amount", OpGreaterThan, 100, true},
		{"greater_than equal is false", "amount", OpGreaterThan, 150, false},
		{"greater_than float", "price", OpGreaterThan, json.Number("9.49"), true},
		{"less_than number", "price", OpLessThan, 10, true},
		{"big integers compare exactly", "big", OpGreaterThan, json.Number("9007199254740992"), true},
		{"greater_than string lexicographic", "name", OpGreaterThan, "aaron", true},
		{"less_than string", "name", OpLessThan, "bob", true},
		{"greater_than string vs number", "code", OpGreaterThan, 50, false},
		{"greater_than number vs string", "amount", OpGreaterThan, "100", false},
		{"greater_than on bool field", "vip", OpGreaterThan, 0, false},
		{"contains substring", "name", OpContains, "lic", true},
		{"contains substring missing", "name", OpContains, "bob", false},
		{"contains array element string", "tags", OpContains, "vip", true},
		{"contains array element number", "tags", OpContains, 7, true},
		{"contains array element type mismatch", "tags", OpContains, "7", false},
		{"contains on number field", "amount", OpContains, "15", false},
		{"contains number in string", "code", OpContains, 100, false},
		{"missing field equals", "missing", OpEquals, "x", false},
		{"missing field not_equals", "missing", OpNotEquals, "x", true},
		{"missing field greater_than", "missing", OpGreaterThan, 1, false},
		{"missing field contains", "missing", OpContains, "x", false},
		{"missing nested field", "customer.missing", OpEquals, "x", false},
		{"path through scalar", "name.first", OpEquals, "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Filter{Field: tt.field, Operator: tt.op, Value: tt.value}
			if err := f.Validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if got := f.Match([]byte(doc)); got != tt.want {
				t.Fatalf("%s on %s: got %v, want %v", f, doc, got, tt.want)
			}
		})
	}
}

func TestFilterPayloadNotJSON(t *testing.T) {
	t.Parallel()
	for _, payload := range []string{"", "not json", `{"a":1} trailing`, `{"a":`} {
		for _, op := range []Operator{OpEquals, OpNotEquals, OpContains, OpGreaterThan, OpLessThan} {
			f := Filter{Field: "a", Operator: op, Value: 1}
			if f.Match([]byte(payload)) {
				t.Errorf("%s matched non-JSON payload %q", f, payload)
			}
		}
	}
	fs, err := CompileFilters([]Filter{{Field: "a", Operator: OpEquals, Value: 1}, {Field: "b", Operator: OpLessThan, Value: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if !fs.Match([]byte(`{"a":1,"b":2}`)) || fs.Match([]byte(`{"a":1,"b":3}`)) {
		t.Fatal("filters must all accept (conjunction)")
	}
}

func TestParseFilter(t *testing.T) {
	t.Parallel()
	valid := []struct {
		in   string
		want Filter
	}{
		{"amount greater_than 100", Filter{"amount", OpGreaterThan, json.Number("100")}},
		{"  price less_than -1.5e2  ", Filter{"price", OpLessThan, json.Number("-1.5e2")}},
		{"customer.tier equals gold", Filter{"customer.tier", OpEquals, "gold"}},
		{`code equals "100"`, Filter{"code", OpEquals, "100"}},
		{`tags contains "vip customer"`, Filter{"tags", OpContains, "vip customer"}},
		{"note contains two words", Filter{"note", OpContains, "two words"}},
		{"vip equals true", Filter{"vip", OpEquals, true}},
		{"note equals null", Filter{"note", OpEquals, nil}},
		{"n equals 1 2", Filter{"n", OpEquals, "1 2"}},
		{`x equals {"a":1}`, Filter{"x", OpEquals, `{"a":1}`}},
	}
	for _, tt := range valid {
		got, err := ParseFilter(tt.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.in, err)
			continue
		}
		if got.Field != tt.want.Field || got.Operator != tt.want.Operator || got.Value != tt.want.Value {
			t.Errorf("ParseFilter(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		again, err := ParseFilter(got.String())
		if err != nil || again.String() != got.String() {
			t.Errorf("round trip of %q: %q, %v", tt.in, got.String(), err)
		}
	}
	invalid := []string{"", "amount", "amount greater_than", "amount bigger 1", ".a equals 1", "a..b equals 1",
		"a greater_than true", "a less_than null"}
	for _, in := range invalid {
		if _, err := ParseFilter(in); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("ParseFilter(%q): got %v, want ErrInvalidFilter", in, err)
		}
	}
}

func TestFilterJSON(t *testing.T) {
	t.Parallel()
	var f Filter
	if err := json.Unmarshal([]byte(`{"field":"amount","operator":"greater_than","value":100}`), &f); err != nil {
		t.Fatal(err)
	}
	if f.Value != json.Number("100") || !f.Match([]byte(`{"amount":101}`)) {
		t.Fatalf("decoded %#v", f)
	}
	for _, bad := range []string{
		`{"field":"","operator":"equals","value":1}`,
		`{"field":"a","operator":"like","value":1}`,
		`{"field":"a","operator":"equals","value":[1]}`,
		`{"field":"a","operator":"greater_than","value":{"b":1}}`,
	} {
		if err := json.Unmarshal([]byte(bad), &f); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%s: got %v, want ErrInvalidFilter", bad, err)
		}
	}
}

func FuzzFilter(f *testing.F) {
	f.Add("amount greater_than 100", []byte(`{"amount":150}`))
	f.Add(`tags contains "vip"`, []byte(`{"tags":["vip"]}`))
	f.Add("a.0.b equals null", []byte(`{"a":[{"b":null}]}`))
	f.Add("x less_than 1e999", []byte(`{"x":-1e999}`))
	f.Add(`s equals "\u00e9"`, []byte(`{"s":"é"}`))
	f.Fuzz(func(t *testing.T, text string, payload []byte) {
		flt, err := ParseFilter(text)
		if err != nil {
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("ParseFilter(%q): error %v is not ErrInvalidFilter", text, err)
			}
			return
		}
		got := flt.Match(payload)
		again, err := ParseFilter(flt.String())
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", flt.String(), text, err)
		}
		if again.Match(payload) != got {
			t.Fatalf("round trip %q → %q changes the result on %q", text, flt.String(), payload)
		}
		if !json.Valid(payload) && got {
			t.Fatalf("%q matched invalid JSON %q", text, payload)
		}
	})
}

// Filter.Value is documented as "number (json.Number or any Go number)".
func TestFilterAcceptsEveryGoNumberType(t *testing.T) {
	t.Parallel()
	for _, v := range []any{int(5), int8(5), int16(5), int32(5), int64(5), uint(5), uint8(5), uint16(5), uint32(5), uint64(5), float32(5), float64(5)} {
		f := Filter{Field: "n", Operator: OpEquals, Value: v}
		if err := f.Validate(); err != nil {
			t.Errorf("value %T: %v", v, err)
			continue
		}
		if !f.Match([]byte(`{"n":5}`)) || f.Match([]byte(`{"n":6}`)) {
			t.Errorf("value %T(5) does not compare as the number 5", v)
		}
	}
}
