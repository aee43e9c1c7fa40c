package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"
)

// ErrSection marks a Section that cannot join the schema: a name the
// platform uses, a field type the documents cannot hold, a key twice.
var ErrSection = errors.New("config: invalid section")

// Section is a section a program adds beside the platform's own: [shop]
// with the keys of a struct. The file, JETFLOW_SHOP_* variables, Set,
// Validate and Encode treat it as they treat [events].
type Section struct {
	// Name is the header: a lower-case letter, then lower-case letters,
	// digits and '_'.
	Name string
	// Defaults is a struct value (not a pointer). Each exported field is a
	// key named by its tag, `tsk:"max_lines"`, or `tsk:"api_key,secret"`
	// for a value Encode of a Redacted config prints as <redacted>;
	// `tsk:"-"` leaves a field out. A `doc:"..."` tag says what the key
	// does. Field types: string, bool, int, int64, float64,
	// time.Duration, []string and []time.Duration.
	Defaults any
	// Validate, when set, checks the section's value (of Defaults' type)
	// in Config.Validate. A *FieldError in what it returns (alone or
	// joined) names a key of the section by its tag (Key "max_lines"); any
	// other error is reported on the section.
	Validate func(v any) error
}

// NewSchema returns the platform's sections followed by extra, in that
// order. It fails with ErrSection, naming every problem.
func NewSchema(extra ...Section) (*Schema, error) {
	if len(extra) == 0 {
		return platform, nil
	}
	sc := &Schema{sections: append([]sectionSpec(nil), platform.sections...)}
	// Every variable of a plain key, to refuse two keys sharing one.
	vars := map[string]string{}
	for _, sec := range platform.sections {
		for _, k := range sec.keys {
			if !sec.named {
				vars[EnvName(sec.name+"."+k.name)] = sec.name + "." + k.name
			}
		}
	}
	var errs []error
	for _, s := range extra {
		spec, err := sectionOfStruct(s)
		if err == nil {
			err = sc.checkName(s.Name)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, k := range spec.keys {
			key := s.Name + "." + k.name
			if other, dup := vars[EnvName(key)]; dup {
				errs = append(errs, fmt.Errorf("%w [%s]: key %s and %s share the variable %s", ErrSection, s.Name, key, other, EnvName(key)))
			}
			vars[EnvName(key)] = key
		}
		sc.sections = append(sc.sections, spec)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return sc, nil
}

// checkName refuses a section name that is not a plain lower-case name,
// that the schema has, or whose variables would read as another
// section's: JETFLOW_TOPICS_X_REPLICAS is topics.x.replicas.
func (sc *Schema) checkName(name string) error {
	if !isKeyName(name) {
		return fmt.Errorf("%w: section name %q: use a lower-case letter, then lower-case letters, digits and '_'", ErrSection, name)
	}
	for _, sec := range sc.sections {
		switch {
		case sec.name == name && sec.extra:
			return fmt.Errorf("%w [%s]: registered twice", ErrSection, name)
		case sec.name == name:
			return fmt.Errorf("%w [%s]: jetflow's own section has that name", ErrSection, name)
		case !sec.extra && strings.HasPrefix(name, sec.name+"_"):
			return fmt.Errorf("%w [%s]: its JETFLOW_%s_* variables would mix with those of [%s]", ErrSection, name, strings.ToUpper(name), sec.name)
		}
	}
	return nil
}

// isKeyName reports whether s is a lower-case name: a letter, then
// letters, digits and '_'. Such names are their own variable names, upper-cased.
func isKeyName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// keyTypes are the field types a program's section may have: those
// assign, formatValue and typeName know.
var keyTypes = map[reflect.Type]bool{
	reflect.TypeFor[string]():          true,
	reflect.TypeFor[bool]():            true,
	reflect.TypeFor[int]():             true,
	reflect.TypeFor[int64]():           true,
	reflect.TypeFor[float64]():         true,
	reflect.TypeFor[time.Duration]():   true,
	reflect.TypeFor[[]string]():        true,
	reflect.TypeFor[[]time.Duration](): true,
}

// sectionOfStruct describes s's struct type as a section whose values
// are stored in Config.sections.
func sectionOfStruct(s Section) (sectionSpec, error) {
	fail := func(format string, args ...any) (sectionSpec, error) {
		return sectionSpec{}, fmt.Errorf("%w [%s]: %s", ErrSection, s.Name, fmt.Sprintf(format, args...))
	}
	if s.Defaults == nil {
		return fail("no defaults: give a struct value")
	}
	typ := reflect.TypeOf(s.Defaults)
	if typ.Kind() != reflect.Struct {
		return fail("defaults are a %s, not a struct", typ)
	}
	def := reflect.New(typ).Elem()
	def.Set(reflect.ValueOf(s.Defaults))
	var keys []keySpec
	seen := map[string]string{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, tagged := f.Tag.Lookup("tsk")
		if !f.IsExported() || tag == "-" {
			continue
		}
		if !tagged {
			return fail("field %s has no tsk tag: name its key, `tsk:\"%s\"`, or leave it out, `tsk:\"-\"`", f.Name, snake(f.Name))
		}
		name, opt, _ := strings.Cut(tag, ",")
		if !isKeyName(name) {
			return fail("field %s: key %q: use a lower-case letter, then lower-case letters, digits and '_'", f.Name, name)
		}
		if other, dup := seen[name]; dup {
			return fail("fields %s and %s are both key %q", other, f.Name, name)
		}
		seen[name] = f.Name
		if !keyTypes[f.Type] {
			return fail("field %s: type %s; a key is a string, bool, int, int64, float64, time.Duration, []string or []time.Duration", f.Name, f.Type)
		}
		k := keySpec{name: name, doc: f.Tag.Get("doc")}
		switch opt {
		case "":
		case "secret":
			if f.Type.Kind() != reflect.String {
				return fail("field %s: only a string key can be secret", f.Name)
			}
			k.secret = true
		default:
			return fail("field %s: unknown tsk option %q (secret is the one there is)", f.Name, opt)
		}
		if f.Type.Kind() == reflect.Slice && def.Field(i).Len() == 0 {
			// Documents decode an empty array as nil: defaults agree, so
			// that a printed configuration reads back equal.
			def.Field(i).SetZero()
		}
		index := f.Index
		k.ptr = func(section any) any { return reflect.ValueOf(section).Elem().FieldByIndex(index).Addr().Interface() }
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return fail("%s has no key: tag its fields `tsk:\"name\"`", typ)
	}
	defaults := def.Interface()
	name := s.Name
	copyOf := func(v any) any {
		p := reflect.New(typ)
		p.Elem().Set(reflect.ValueOf(v))
		return p.Interface()
	}
	return sectionSpec{
		name:     name,
		keys:     keys,
		extra:    true,
		validate: s.Validate,
		read: func(c *Config, _ string) any {
			if v, ok := c.sections[name]; ok {
				return copyOf(v)
			}
			return copyOf(defaults)
		},
		write: func(c *Config, _ string, section any) {
			// Clone so that a Config copied before this write keeps its own map.
			m := maps.Clone(c.sections)
			if m == nil {
				m = map[string]any{}
			}
			m[name] = reflect.ValueOf(section).Elem().Interface()
			c.sections = m
		},
		def: func(string) any { return copyOf(defaults) },
	}, nil
}

// snake suggests a key for a Go field name: MaxLines → max_lines.
func snake(name string) string {
	var b strings.Builder
	for i, r := range name {
		if r >= 'A' && r <= 'Z' {
			if i > 0 && !(name[i-1] >= 'A' && name[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Default returns every setting of the schema at its default.
func (sc *Schema) Default() Config {
	c := Default()
	if sc == platform {
		return c
	}
	c.schema = sc
	c.sections = map[string]any{}
	for _, sec := range sc.sections {
		if sec.extra {
			c.sections[sec.name] = reflect.ValueOf(sec.def("")).Elem().Interface()
		}
	}
	return c
}

// Section returns the value of the program's section name, of the type of
// its Section.Defaults; false when c's schema has no such section.
func (c Config) Section(name string) (any, bool) {
	sec, ok := c.spec().lookup(name)
	if !ok || !sec.extra {
		return nil, false
	}
	return reflect.ValueOf(sec.read(&c, "")).Elem().Interface(), true
}

// validateSections runs the Validate of each program's section. Each
// problem becomes a *FieldError: on the key a *FieldError names, else on
// the section; the error it came from stays reachable with errors.Is and
// errors.As.
func (c Config) validateSections(p *problems) {
	for _, sec := range c.spec().sections {
		if sec.validate == nil {
			continue
		}
		v, _ := c.Section(sec.name)
		for _, err := range leaves(sec.validate(v)) {
			fe, ok := errors.AsType[*FieldError](err)
			if ok {
				if _, known := sec.key(fe.Key); known {
					*p = append(*p, &FieldError{Key: sec.name + "." + fe.Key, Msg: fe.Msg, Err: fmt.Errorf("%w: %w", ErrInvalid, err)})
					continue
				}
			}
			*p = append(*p, &FieldError{Key: sec.name, Msg: err.Error(), Err: fmt.Errorf("%w: %w", ErrInvalid, err)})
		}
	}
}

// leaves flattens errors.Join trees into the errors they hold.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, leaves(e)...)
	}
	return out
}
