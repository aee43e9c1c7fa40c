package config

import (
	"fmt"
	"strings"
)

// Set assigns one setting by its dotted key: "events.replicas" for a
// section's key, "topics.orders.replicas" for a named entry's (the entry is
// created at its defaults when missing). The value is text, as a flag or
// an environment variable gives it: integers, booleans and durations are
// parsed; arrays are "a, b" or a TuskLang array literal ["a", "b"]. The
// command layer calls Set for each flag the user changed, after Load, so
// flags win over the environment and the file.
func (c *Config) Set(key, val string) error {
	sec, entry, ks, err := c.spec().resolveKey(key)
	if err != nil {
		return err
	}
	target := sec.read(c, entry)
	v := value{kind: kindString, str: val, text: true}
	if ks.secret {
		v = v.hide()
	}
	if err := assign(ks.ptr(target), ks.ptr(sec.def(entry)), v); err != nil {
		return &FieldError{Key: key, Msg: err.Error(), Err: ErrType}
	}
	sec.write(c, entry, target)
	return nil
}

// resolveKey finds the section, entry and key a dotted key names.
func (sc *Schema) resolveKey(key string) (sectionSpec, string, keySpec, error) {
	parts := strings.Split(key, ".")
	sec, ok := sc.lookup(parts[0])
	switch {
	case !ok:
	case sec.named && len(parts) == 2:
		if _, ok := sec.key(parts[1]); ok {
			return sectionSpec{}, "", keySpec{}, &FieldError{Key: key, Msg: fmt.Sprintf("unknown key; name the entry: %s.<name>.%s", parts[0], parts[1]), Err: ErrUnknownKey}
		}
	case sec.named && len(parts) == 3:
		if !isName(parts[1]) {
			return sectionSpec{}, "", keySpec{}, &FieldError{Key: key, Msg: fmt.Sprintf("invalid name %q: use letters, digits, '_' and '-'", parts[1]), Err: ErrUnknownKey}
		}
		if ks, ok := sec.key(parts[2]); ok {
			return sec, parts[1], ks, nil
		}
	case !sec.named && len(parts) == 2:
		if ks, ok := sec.key(parts[1]); ok {
			return sec, "", ks, nil
		}
	}
	msg := "unknown key"
	if near := nearest(key, sc.dottedKeys(parts)); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	return sectionSpec{}, "", keySpec{}, &FieldError{Key: key, Msg: msg, Err: ErrUnknownKey}
}

// dottedKeys lists every dotted key, with the entry name of parts (the key
// being looked up) in named sections, so "topics.orders.replica" can
// suggest "topics.orders.replicas".
func (sc *Schema) dottedKeys(parts []string) []string {
	var keys []string
	for _, s := range sc.sections {
		for _, k := range s.keys {
			if !s.named {
				keys = append(keys, s.name+"."+k.name)
				continue
			}
			entry := "<name>"
			if len(parts) == 3 {
				entry = parts[1]
			}
			keys = append(keys, s.name+"."+entry+"."+k.name)
		}
	}
	return keys
}
