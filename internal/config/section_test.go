package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// shop is a program's own section with every key type.
type shop struct {
	WarehouseURL string          `tsk:"warehouse_url" doc:"Where orders are sent."`
	MaxLines     int             `tsk:"max_lines" doc:"Most lines an order may have."`
	Budget       int64           `tsk:"budget"`
	Discount     float64         `tsk:"discount"`
	Express      bool            `tsk:"express"`
	Timeout      time.Duration   `tsk:"timeout"`
	Regions      []string        `tsk:"regions"`
	Retries      []time.Duration `tsk:"retries"`
	APIKey       string          `tsk:"api_key,secret" doc:"Key of the warehouse API."`
	Skipped      string          `tsk:"-"`
	unexported   int
}

var errTooFew = errors.New("too few lines")

func shopDefaults() shop {
	return shop{MaxLines: 100, Timeout: 5 * time.Second, Regions: []string{}, Retries: []time.Duration{time.Second}, unexported: 7}
}

// shopSection validates as a program's Validate would: a field error on
// max_lines, and a plain error about the section as a whole.
func shopSection() Section {
	return Section{Name: "shop", Defaults: shopDefaults(), Validate: func(v any) error {
		s := v.(shop)
		var errs []error
		if s.MaxLines < 1 {
			errs = append(errs, &FieldError{Key: "max_lines", Msg: fmt.Sprintf("%d: must be at least 1", s.MaxLines), Err: errTooFew})
		}
		if s.Express && s.WarehouseURL == "" {
			errs = append(errs, errors.New("express needs a warehouse_url"))
		}
		return errors.Join(errs...)
	}}
}

func shopSchema(t testing.TB) *Schema {
	t.Helper()
	sc, err := NewSchema(shopSection())
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func shopOf(t *testing.T, c Config) shop {
	t.Helper()
	v, ok := c.Section("shop")
	if !ok {
		t.Fatal("no section shop")
	}
	return v.(shop)
}

func TestSectionValues(t *testing.T) {
	t.Parallel()
	sc := shopSchema(t)
	tests := []struct {
		name string
		src  string
		env  []string
		set  map[string]string
		want func(*shop) // changes from the defaults
	}{
		{name: "absent: the defaults", want: func(*shop) {}},
		{name: "header alone", src: "[shop]\n", want: func(*shop) {}},
		{
			name: "every type from the file",
			src: `[shop]
warehouse_url: "http://wh:8080"
max_lines: 3
budget: 10_000_000_000
discount: 0.25
express: true
timeout: "1m30s"
regions: ["eu", "us"]
retries: ["1s", "5s"]
api_key: "k"
`,
			want: func(s *shop) {
				*s = shop{WarehouseURL: "http://wh:8080", MaxLines: 3, Budget: 10_000_000_000, Discount: 0.25, Express: true,
					Timeout: 90 * time.Second, Regions: []string{"eu", "us"}, Retries: []time.Duration{time.Second, 5 * time.Second},
					APIKey: "k", unexported: 7}
			},
		},
		{name: "an integer for a number", src: "[shop]\ndiscount: 1\n", want: func(s *shop) { s.Discount = 1 }},
		{name: "null restores the default", src: "[shop]\nmax_lines: null\nretries: null\n", want: func(*shop) {}},
		{name: "empty array", src: "[shop]\nretries: []\n", want: func(s *shop) { s.Retries = nil }},
		{name: "variables and @env", src: "$n: 4\n[shop]\nmax_lines: $n\nbudget: @env(\"BUDGET\")\n", env: []string{"BUDGET=12"},
			want: func(s *shop) { s.MaxLines, s.Budget = 4, 12 }},
		{
			name: "environment over the file",
			src:  "[shop]\nmax_lines: 3\n",
			env:  []string{"JETFLOW_SHOP_MAX_LINES=5", "JETFLOW_SHOP_DISCOUNT=1e-2", "JETFLOW_SHOP_REGIONS=eu, us", "JETFLOW_SHOP_EXPRESS=1"},
			want: func(s *shop) { s.MaxLines, s.Discount, s.Regions, s.Express = 5, 0.01, []string{"eu", "us"}, true },
		},
		{
			name: "Set over the environment",
			env:  []string{"JETFLOW_SHOP_MAX_LINES=5"},
			set:  map[string]string{"shop.max_lines": "6", "shop.retries": `["2s"]`, "shop.timeout": "2s", "shop.budget": "-1"},
			want: func(s *shop) {
				s.MaxLines, s.Retries, s.Timeout, s.Budget = 6, []time.Duration{2 * time.Second}, 2*time.Second, -1
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := sc.Load(writeFile(t, tt.src), tt.env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			for k, v := range tt.set {
				if err := c.Set(k, v); err != nil {
					t.Fatalf("Set(%s): %v", k, err)
				}
			}
			want := shopDefaults()
			want.Regions = nil // an empty array reads as nil
			tt.want(&want)
			if got := shopOf(t, c); !reflect.DeepEqual(got, want) {
				t.Errorf("shop:\n got %+v\nwant %+v", got, want)
			}
			if c.Events.Replicas != 1 {
				t.Errorf("the platform's keys changed: %+v", c.Events)
			}
		})
	}
}

func TestSectionErrors(t *testing.T) {
	t.Parallel()
	sc := shopSchema(t)
	tests := []struct {
		name     string
		src      string
		env      []string
		set      [2]string
		want     []string
		sentinel error
	}{
		{name: "unknown key", src: "[shop]\nmax_line: 3\n",
			want: []string{`f.tsk:2:1: unknown key "max_line" in [shop]; did you mean "max_lines"?`}, sentinel: ErrUnknownKey},
		{name: "wrong type", src: "[shop]\n\nmax_lines: \"3\"\n",
			want: []string{`f.tsk:3:12: max_lines in [shop]: expected an integer, found string "3"`}, sentinel: ErrType},
		{name: "integer for an int64 holds no fraction", src: "[shop]\nbudget: 1.5\n",
			want: []string{`f.tsk:2:9: budget in [shop]: expected an integer, found float 1.5`}, sentinel: ErrType},
		{name: "string for a number", src: "[shop]\ndiscount: \"0.1\"\n",
			want: []string{`f.tsk:2:11: discount in [shop]: expected a number, found string "0.1"`}, sentinel: ErrType},
		{name: "array element", src: "[shop]\nretries: [\"1s\", 2]\n",
			want: []string{`f.tsk:2:17: retries in [shop]: element 2: expected a duration string such as "5s", found integer 2`}, sentinel: ErrType},
		{name: "misspelt section", src: "[shp]\nmax_lines: 3\n",
			want: []string{`f.tsk:1:2: unknown section [shp]; did you mean [shop]?`}, sentinel: ErrUnknownSection},
		{name: "section with a name", src: "[shop.eu]\n",
			want: []string{`f.tsk:1:2: section [shop] takes no name: write [shop]`}, sentinel: ErrUnknownSection},
		{name: "key under another section", src: "[events]\nmax_lines: 3\n",
			want: []string{`f.tsk:2:1: unknown key "max_lines" in [events]; it belongs under [shop]`}, sentinel: ErrUnknownKey},
		{name: "key outside any section", src: "warehouse_url: \"x\"\n",
			want: []string{`f.tsk:1:1: key "warehouse_url" is outside any section; put it under [shop]`}, sentinel: ErrUnknownKey},
		{name: "every problem at once", src: "[shop]\nmax_line: 3\nexpress: \"yes\"\n",
			want: []string{`f.tsk:2:1: unknown key "max_line"`, `f.tsk:3:10: express in [shop]: expected true or false, found string "yes"`}, sentinel: ErrType},
		{name: "variable", env: []string{"JETFLOW_SHOP_MAX_LINE=3"},
			want: []string{`JETFLOW_SHOP_MAX_LINE: unknown variable; did you mean JETFLOW_SHOP_MAX_LINES?`}, sentinel: ErrUnknownKey},
		{name: "variable of the wrong type", env: []string{"JETFLOW_SHOP_DISCOUNT=much"},
			want: []string{`environment JETFLOW_SHOP_DISCOUNT: shop.discount: expected a number, found text "much"`}, sentinel: ErrType},
		{name: "Set of a misspelt key", set: [2]string{"shop.max_line", "3"},
			want: []string{`shop.max_line: unknown key; did you mean "shop.max_lines"?`}, sentinel: ErrUnknownKey},
		{name: "Set of the wrong type", set: [2]string{"shop.timeout", "5"},
			want: []string{`shop.timeout: expected a duration such as "500ms", "5s" or "1h30m", found text "5"`}, sentinel: ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := sc.Decode("f.tsk", []byte(tt.src), nil)
			if err == nil {
				err = c.ApplyEnv(tt.env)
			}
			if err == nil && tt.set[0] != "" {
				err = c.Set(tt.set[0], tt.set[1])
			}
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n got %v\nwant %s", err, w)
				}
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
		})
	}
	// The platform's schema still refuses the section.
	if _, err := Decode("f.tsk", []byte("[shop]\n"), nil); !errors.Is(err, ErrUnknownSection) {
		t.Errorf("the platform's schema read [shop]: %v", err)
	}
}

func TestSectionValidate(t *testing.T) {
	t.Parallel()
	sc := shopSchema(t)
	c := sc.Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for k, v := range map[string]string{"shop.max_lines": "0", "shop.express": "true", "events.replicas": "9"} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	err := c.Validate()
	var keys []string
	for _, e := range leaves(err) {
		fe, ok := e.(*FieldError)
		if !ok || !errors.Is(fe, ErrInvalid) {
			t.Errorf("%v is not a *FieldError matching ErrInvalid", e)
			continue
		}
		keys = append(keys, fe.Key)
	}
	if want := []string{"events.replicas", "shop.max_lines", "shop"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("problems on %q, want %q (%v)", keys, want, err)
	}
	for _, want := range []string{"shop.max_lines: 0: must be at least 1", "shop: express needs a warehouse_url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	if !errors.Is(err, errTooFew) {
		t.Errorf("the section's own error is lost: %v", err)
	}
	if err := c.ValidateClient(); !strings.Contains(fmt.Sprint(err), "shop.max_lines") {
		t.Errorf("ValidateClient skips the section: %v", err)
	}

	// A field error naming no key of the section is reported on the section.
	odd, err := NewSchema(Section{Name: "odd", Defaults: struct {
		A int `tsk:"a"`
	}{}, Validate: func(any) error { return &FieldError{Key: "b", Msg: "no such key"} }})
	if err != nil {
		t.Fatal(err)
	}
	oc := odd.Default()
	var fe *FieldError
	if err := oc.Validate(); !errors.As(err, &fe) || fe.Key != "odd" || err.Error() != "odd: b: no such key" {
		t.Errorf("field error on an unknown key: %v", err)
	}
}

func TestNewSchemaRefuses(t *testing.T) {
	t.Parallel()
	type ok struct {
		A int `tsk:"a"`
	}
	tests := []struct {
		name     string
		sections []Section
		want     string
	}{
		{"the platform's section", []Section{{Name: "events", Defaults: ok{}}}, "[events]: jetflow's own section has that name"},
		{"twice", []Section{{Name: "shop", Defaults: ok{}}, {Name: "shop", Defaults: ok{}}}, "[shop]: registered twice"},
		{"a platform section's variables", []Section{{Name: "topics_x", Defaults: ok{}}}, "JETFLOW_TOPICS_X_* variables would mix with those of [topics]"},
		{"upper case", []Section{{Name: "Shop", Defaults: ok{}}}, `section name "Shop"`},
		{"a dash", []Section{{Name: "my-shop", Defaults: ok{}}}, `section name "my-shop"`},
		{"no defaults", []Section{{Name: "shop"}}, "no defaults"},
		{"a pointer", []Section{{Name: "shop", Defaults: &ok{}}}, "not a struct"},
		{"no key", []Section{{Name: "shop", Defaults: struct{ a int }{}}}, "has no key"},
		{"an untagged field", []Section{{Name: "shop", Defaults: struct {
			MaxLines int
		}{}}}, "field MaxLines has no tsk tag: name its key, `tsk:\"max_lines\"`"},
		{"a bad key", []Section{{Name: "shop", Defaults: struct {
			A int `tsk:"Max-Lines"`
		}{}}}, `key "Max-Lines"`},
		{"a key twice", []Section{{Name: "shop", Defaults: struct {
			A int `tsk:"a"`
			B int `tsk:"a"`
		}{}}}, `fields A and B are both key "a"`},
		{"an unsupported type", []Section{{Name: "shop", Defaults: struct {
			A uint `tsk:"a"`
		}{}}}, "field A: type uint"},
		{"a named type", []Section{{Name: "shop", Defaults: struct {
			A time.Month `tsk:"a"`
		}{}}}, "field A: type time.Month"},
		{"a secret integer", []Section{{Name: "shop", Defaults: struct {
			A int `tsk:"a,secret"`
		}{}}}, "only a string key can be secret"},
		{"an unknown option", []Section{{Name: "shop", Defaults: struct {
			A string `tsk:"a,hidden"`
		}{}}}, `unknown tsk option "hidden"`},
		{"one variable for two keys", []Section{
			{Name: "a", Defaults: struct {
				X int `tsk:"b_c"`
			}{}},
			{Name: "a_b", Defaults: struct {
				X int `tsk:"c"`
			}{}},
		}, "key a_b.c and a.b_c share the variable JETFLOW_A_B_C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewSchema(tt.sections...)
			if !errors.Is(err, ErrSection) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewSchema: %v, want ErrSection with %q", err, tt.want)
			}
		})
	}
	if sc, err := NewSchema(); err != nil || sc != platform {
		t.Errorf("NewSchema() = %p, %v; want the platform's", sc, err)
	}
}

// TestSectionEncode: config check prints the section with each key's
// documentation, default and variable; the document reads back equal, and
// a secret is redacted.
func TestSectionEncode(t *testing.T) {
	t.Parallel()
	sc := shopSchema(t)
	c := sc.Default()
	for k, v := range map[string]string{"shop.max_lines": "3", "shop.api_key": "s3cret", "shop.regions": "eu", "shop.discount": "0.5"} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := Format(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := sc.Decode("printed", doc, nil)
	if err != nil {
		t.Fatalf("Decode(Encode(c)): %v\n%s", err, doc)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("Decode(Encode(c)) differs:\n got %+v\nwant %+v", back.sections, c.sections)
	}
	for _, want := range []string{
		"\n[shop]\n# Where orders are sent. Default \"\"; env JETFLOW_SHOP_WAREHOUSE_URL.\nwarehouse_url: \"\"\n",
		"# Most lines an order may have. Default 100; env JETFLOW_SHOP_MAX_LINES.\nmax_lines:     3\n",
		"# Default 0.0; env JETFLOW_SHOP_DISCOUNT.\ndiscount:      0.5\n",
		"retries:       [\"1s\"]\n",
		"api_key:       \"s3cret\"\n",
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("printed section lacks %q:\n%s", want, doc)
		}
	}
	red, err := Format(c.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(red), "api_key:       \"<redacted>\"\n") || strings.Contains(string(red), "s3cret") {
		t.Errorf("the secret is printed:\n%s", red)
	}
	if shopOf(t, c).APIKey != "s3cret" {
		t.Error("Redacted changed the Config it was called on")
	}
}

func TestSectionKeysAndCopies(t *testing.T) {
	t.Parallel()
	sc := shopSchema(t)
	var names []string
	for _, k := range sc.Keys() {
		if strings.HasPrefix(k.Name, "shop.") {
			names = append(names, k.Name+" "+k.Type+" "+k.Default+" "+k.Env)
		}
	}
	want := []string{
		`shop.warehouse_url string "" JETFLOW_SHOP_WAREHOUSE_URL`,
		`shop.max_lines integer 100 JETFLOW_SHOP_MAX_LINES`,
		`shop.budget integer 0 JETFLOW_SHOP_BUDGET`,
		`shop.discount number 0.0 JETFLOW_SHOP_DISCOUNT`,
		`shop.express boolean false JETFLOW_SHOP_EXPRESS`,
		`shop.timeout duration "5s" JETFLOW_SHOP_TIMEOUT`,
		`shop.regions array of strings [] JETFLOW_SHOP_REGIONS`,
		`shop.retries array of durations ["1s"] JETFLOW_SHOP_RETRIES`,
		`shop.api_key string "" JETFLOW_SHOP_API_KEY`,
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("Keys:\n got %q\nwant %q", names, want)
	}
	if len(Keys()) != len(sc.Keys())-len(want) {
		t.Errorf("the platform's Keys list the program's section")
	}

	before := sc.Default()
	after := before
	if err := after.Set("shop.max_lines", "7"); err != nil {
		t.Fatal(err)
	}
	if shopOf(t, before).MaxLines != 100 || shopOf(t, after).MaxLines != 7 {
		t.Errorf("Set changed a copy taken before it: %d, %d", shopOf(t, before).MaxLines, shopOf(t, after).MaxLines)
	}
	if _, ok := before.Section("events"); ok {
		t.Error("Section returned a platform section")
	}
	if _, ok := Default().Section("shop"); ok {
		t.Error("a platform Config has the section")
	}
}

// FuzzDecodeSection: FuzzDecode for a schema with a program's section:
// no panic, positioned errors, and printed documents read back equal.
func FuzzDecodeSection(f *testing.F) {
	for _, seed := range []string{
		"[shop]\nmax_lines: 3\n",
		"[shop]\nbudget: -9223372036854775808\ndiscount: 1e308\nregions: ['a', \"b\"]\nretries: []\n",
		"[shop]\ndiscount: 1\nexpress: true\napi_key: \"\\u0000\"\n",
		"[shp]\nmax_line: \"x\"\n",
		"$v: @env(\"V\", 2)\n[shop]\nmax_lines: $v\n[events]\nreplicas: $v\n",
	} {
		f.Add([]byte(seed))
	}
	sc := shopSchema(f)
	env := []string{"V=5"}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := sc.Decode("f.tsk", src, env)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Col < 1 || se.File != "f.tsk" {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		doc, err := Format(c)
		if err != nil {
			t.Fatalf("Format of a decoded Config: %v", err)
		}
		back, err := sc.Decode("encoded", doc, nil)
		if err != nil {
			t.Fatalf("Decode(Encode(c)): %v\n%s", err, doc)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("Decode(Encode(c)) differs:\n got %+v\nwant %+v\n%s", back, c, doc)
		}
		_ = c.Validate()
	})
}
