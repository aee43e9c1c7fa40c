package config

import (
	"errors"
	"fmt"
	"strings"
)

// Decode reads a TuskLang document over Default() and returns the result.
// env ("NAME=value" pairs) answers @env; JETFLOW_* variables are not
// applied here (Load does that). Every unknown key and type mismatch is
// reported, joined; a syntax error stops at the first one.
func Decode(file string, src []byte, env []string) (Config, error) {
	return platform.Decode(file, src, env)
}

// Decode is the package's Decode with the schema's sections.
func (sc *Schema) Decode(file string, src []byte, env []string) (Config, error) {
	c := sc.Default()
	if err := c.decode(file, src, env); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c *Config) decode(file string, src []byte, env []string) error {
	doc, err := parse(file, src, envMap(env))
	if err != nil {
		return err
	}
	schema := c.spec()
	var (
		errs  []error
		sec   sectionSpec
		entry string
		where string // "[events]" or "[topics.orders]", for messages
		valid bool   // the current header named a real section
		seen  = map[string]int{}
	)
	for _, s := range doc.stmts {
		switch {
		case s.header:
			sec, entry, err = schema.resolveHeader(file, s)
			if valid = err == nil; !valid {
				errs = append(errs, err)
				continue
			}
			where = "[" + strings.Join(s.path, ".") + "]"
			if sec.named {
				// A header alone declares its entry, at the defaults.
				sec.write(c, entry, sec.read(c, entry))
			}
		case s.path == nil:
			msg := fmt.Sprintf("key %q is outside any section", s.key)
			if owner := schema.sectionOf(s.key); owner != "" {
				msg += "; put it under " + owner
			} else {
				msg += "; put it under a [section] header"
			}
			errs = append(errs, s.pos.errorf(file, ErrUnknownKey, "%s", msg))
		case !valid:
			// The header's own error was reported; its keys would only add noise.
		default:
			ks, ok := sec.key(s.key)
			if !ok {
				errs = append(errs, s.pos.errorf(file, ErrUnknownKey, "%s", schema.unknownKeyMsg(s.key, sec, where)))
				continue
			}
			full := dottedKey(sec, entry, ks.name)
			if line, dup := seen[full]; dup {
				errs = append(errs, s.pos.errorf(file, ErrDuplicateKey, "duplicate key %q in %s (first set on line %d)", ks.name, where, line))
				continue
			}
			seen[full] = s.pos.Line
			target := sec.read(c, entry)
			if ks.secret {
				s.val = s.val.hide()
			}
			if err := assign(ks.ptr(target), ks.ptr(sec.def(entry)), s.val); err != nil {
				at := s.val.pos
				if el, ok := errors.AsType[*elemError](err); ok && !s.val.text {
					at = el.pos
				}
				errs = append(errs, at.errorf(file, ErrType, "%s in %s: %v", ks.name, where, err))
				continue
			}
			sec.write(c, entry, target)
		}
	}
	return errors.Join(errs...)
}

// resolveHeader finds the section a header names, and the entry name of a
// [section.name] header.
func (sc *Schema) resolveHeader(file string, s stmt) (sectionSpec, string, error) {
	header := strings.Join(s.path, ".")
	sec, ok := sc.lookup(s.path[0])
	if !ok {
		msg := fmt.Sprintf("unknown section [%s]", header)
		if near := nearest(s.path[0], sc.names()); near != "" {
			msg += fmt.Sprintf("; did you mean [%s]?", strings.Join(append([]string{near}, s.path[1:]...), "."))
		}
		return sectionSpec{}, "", s.pos.errorf(file, ErrUnknownSection, "%s", msg)
	}
	switch {
	case sec.named && len(s.path) == 1:
		return sectionSpec{}, "", s.pos.errorf(file, ErrUnknownSection, "section [%s] needs a name: [%s.<name>]", sec.name, sec.name)
	case sec.named && len(s.path) > 2:
		return sectionSpec{}, "", s.pos.errorf(file, ErrUnknownSection, "section [%s] has too many parts: write [%s.<name>]", header, sec.name)
	case !sec.named && len(s.path) > 1:
		return sectionSpec{}, "", s.pos.errorf(file, ErrUnknownSection, "section [%s] takes no name: write [%s]", sec.name, sec.name)
	}
	if sec.named {
		return sec, s.path[1], nil
	}
	return sec, "", nil
}

// unknownKeyMsg says a key is unknown and, when it can, which key was meant:
// a near name in the same section, or the section that has this key.
func (sc *Schema) unknownKeyMsg(key string, sec sectionSpec, where string) string {
	msg := fmt.Sprintf("unknown key %q in %s", key, where)
	if near := nearest(key, sec.keyNames()); near != "" {
		return msg + fmt.Sprintf("; did you mean %q?", near)
	}
	if owner := sc.sectionOf(key); owner != "" {
		return msg + "; it belongs under " + owner
	}
	return msg
}

// sectionOf names the section that has key, as a header ("[snapshots]",
// "[topics.<name>]"), or "" when none has it.
func (sc *Schema) sectionOf(key string) string {
	for _, s := range sc.sections {
		if _, ok := s.key(key); ok {
			if s.named {
				return "[" + s.name + ".<name>]"
			}
			return "[" + s.name + "]"
		}
	}
	return ""
}

func dottedKey(sec sectionSpec, entry, key string) string {
	if sec.named {
		return sec.name + "." + entry + "." + key
	}
	return sec.name + "." + key
}
