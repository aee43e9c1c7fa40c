package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxDepth bounds nested arrays and calls: no setting nests, and a bound
// keeps hostile input from exhausting the stack.
const maxDepth = 32

// stmt is one statement of a document: a [section] header or a key: value.
type stmt struct {
	header bool
	path   []string // the header's parts ("topics", "orders"), or the section a key is in
	key    string
	pos    Pos // of the header's name or of the key
	val    value
}

type document struct {
	stmts []stmt
}

// parser reads a document with one token of lookahead. $variables and
// @env calls are resolved while parsing, so the document it returns holds
// plain values only.
type parser struct {
	lx      *lexer
	tok     token
	env     map[string]string
	vars    map[string]value
	varLine map[string]int
	path    []string // current section; nil before the first header
	depth   int
}

// parse reads src; env resolves @env (nil: every variable is unset).
func parse(file string, src []byte, env map[string]string) (*document, error) {
	p := &parser{
		lx:      newLexer(file, src),
		env:     env,
		vars:    map[string]value{},
		varLine: map[string]int{},
	}
	doc := &document{}
	if err := p.advance(); err != nil {
		return nil, err
	}
	for {
		var (
			s   stmt
			err error
			ok  = true
		)
		switch p.tok.kind {
		case tEOF:
			return doc, nil
		case tNewline:
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		case tLBrack:
			s, err = p.header()
		case tVar:
			err, ok = p.variable(), false
		case tWord:
			s, err = p.assignment()
		default:
			err = p.errorf(p.tok.pos, "expected a key, a [section] or a $variable, found %s", p.tok.describe())
		}
		if err != nil {
			return nil, err
		}
		if ok {
			doc.stmts = append(doc.stmts, s)
		}
		if p.tok.kind != tNewline && p.tok.kind != tEOF {
			return nil, p.errorf(p.tok.pos, "unexpected %s; one statement per line", p.tok.describe())
		}
	}
}

func (p *parser) errorf(at Pos, format string, args ...any) error {
	return at.errorf(p.lx.file, ErrSyntax, format, args...)
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

// skipNewlines lets arrays and calls span lines.
func (p *parser) skipNewlines() error {
	for p.tok.kind == tNewline {
		if err := p.advance(); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) expect(kind tokKind, what string) error {
	if p.tok.kind != kind {
		return p.errorf(p.tok.pos, "expected %s, found %s", what, p.tok.describe())
	}
	return p.advance()
}

func (p *parser) header() (stmt, error) {
	if err := p.advance(); err != nil {
		return stmt{}, err
	}
	if p.tok.kind != tWord {
		return stmt{}, p.errorf(p.tok.pos, `expected a section name after "[", found %s`, p.tok.describe())
	}
	name := p.tok
	parts := strings.Split(name.text, ".")
	for _, part := range parts {
		if !isName(part) {
			return stmt{}, p.errorf(name.pos, "invalid section name %q: use names of letters, digits, '_' and '-' joined by '.'", name.text)
		}
	}
	if err := p.advance(); err != nil {
		return stmt{}, err
	}
	if err := p.expect(tRBrack, `"]" after the section name`); err != nil {
		return stmt{}, err
	}
	p.path = parts
	return stmt{header: true, path: parts, pos: name.pos}, nil
}

func (p *parser) variable() error {
	name := p.tok
	if p.path != nil {
		return p.errorf(name.pos, "variable $%s must be defined before the first [section]", name.text)
	}
	if line, dup := p.varLine[name.text]; dup {
		return name.pos.errorf(p.lx.file, ErrDuplicateKey, "variable $%s already defined on line %d", name.text, line)
	}
	v, err := p.separatorAndValue("$" + name.text)
	if err != nil {
		return err
	}
	p.vars[name.text] = v
	p.varLine[name.text] = name.pos.Line
	return nil
}

func (p *parser) assignment() (stmt, error) {
	key := p.tok
	if !isName(key.text) {
		if strings.Contains(key.text, ".") && !strings.HasPrefix(key.text, ".") {
			return stmt{}, p.errorf(key.pos, "dotted key %q: write the key under its [section] header", key.text)
		}
		return stmt{}, p.errorf(key.pos, "invalid key %q: keys are letters, digits, '_' and '-'", key.text)
	}
	v, err := p.separatorAndValue(key.text)
	if err != nil {
		return stmt{}, err
	}
	return stmt{path: p.path, key: key.text, pos: key.pos, val: v}, nil
}

// separatorAndValue reads ": value" or "= value" after name.
func (p *parser) separatorAndValue(name string) (value, error) {
	if err := p.advance(); err != nil {
		return value{}, err
	}
	if p.tok.kind != tColon && p.tok.kind != tEquals {
		return value{}, p.errorf(p.tok.pos, `expected ":" or "=" after %s, found %s`, name, p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return value{}, err
	}
	if p.tok.kind == tNewline || p.tok.kind == tEOF {
		return value{}, p.errorf(p.tok.pos, "missing value for %s", name)
	}
	return p.value()
}

func (p *parser) value() (value, error) {
	t := p.tok
	switch t.kind {
	case tString:
		return value{kind: kindString, str: t.text, pos: t.pos}, p.advance()
	case tWord:
		v, err := p.word(t)
		if err != nil {
			return value{}, err
		}
		return v, p.advance()
	case tVar:
		v, ok := p.vars[t.text]
		if !ok {
			msg := "undefined variable $" + t.text
			if s := nearest(t.text, mapKeys(p.vars)); s != "" {
				msg += "; did you mean $" + s + "?"
			}
			return value{}, t.pos.errorf(p.lx.file, ErrUndefinedVariable, "%s", msg)
		}
		v.pos = t.pos // errors point at the use, not the definition
		return v, p.advance()
	case tFunc:
		return p.call()
	case tLBrack:
		return p.array()
	case tNewline, tEOF:
		return value{}, p.errorf(t.pos, "missing value")
	}
	return value{}, p.errorf(t.pos, "expected a value, found %s", t.describe())
}

// word classifies a bare word in value position: true, false, null or a
// number; anything else is a string someone forgot to quote.
func (p *parser) word(t token) (value, error) {
	switch t.text {
	case "true", "false":
		return value{kind: kindBool, b: t.text == "true", pos: t.pos}, nil
	case "null":
		return value{kind: kindNull, pos: t.pos}, nil
	}
	v, isNum, err := parseNumber(t.text)
	if isNum {
		if err != nil {
			return value{}, p.errorf(t.pos, "number %s is out of range", t.text)
		}
		v.pos = t.pos
		return v, nil
	}
	switch lower := strings.ToLower(t.text); {
	case lower == "true" || lower == "false" || lower == "null":
		return value{}, p.errorf(t.pos, "%s must be written in lower case: %s", t.text, lower)
	}
	if _, err := time.ParseDuration(t.text); err == nil {
		return value{}, p.errorf(t.pos, "unquoted duration %s: durations are strings, write %q", t.text, t.text)
	}
	return value{}, p.errorf(t.pos, "unquoted string %s: strings are quoted, write %q", t.text, t.text)
}

func (p *parser) enter(at Pos) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf(at, "nested more than %d levels deep", maxDepth)
	}
	return nil
}

func (p *parser) array() (value, error) {
	open := p.tok.pos
	if err := p.enter(open); err != nil {
		return value{}, err
	}
	defer func() { p.depth-- }()
	if err := p.advance(); err != nil {
		return value{}, err
	}
	arr := value{kind: kindArray, pos: open}
	for {
		if err := p.skipNewlines(); err != nil {
			return value{}, err
		}
		switch p.tok.kind {
		case tRBrack:
			return arr, p.advance()
		case tEOF:
			return value{}, p.errorf(open, "unterminated array")
		}
		v, err := p.value()
		if err != nil {
			return value{}, err
		}
		arr.elems = append(arr.elems, v)
		if err := p.skipNewlines(); err != nil {
			return value{}, err
		}
		switch p.tok.kind {
		case tComma:
			if err := p.advance(); err != nil {
				return value{}, err
			}
		case tRBrack:
			return arr, p.advance()
		case tEOF:
			return value{}, p.errorf(open, "unterminated array")
		default:
			return value{}, p.errorf(p.tok.pos, `expected "," or "]" in array, found %s`, p.tok.describe())
		}
	}
}

// call reads @env("NAME") or @env("NAME", default). An unset variable
// without a default is null, which leaves the key at its default.
func (p *parser) call() (value, error) {
	fn := p.tok
	if fn.text == "file" {
		return p.fileCall()
	}
	if fn.text != "env" {
		return value{}, p.errorf(fn.pos, `unknown function @%s: only @env("NAME", default) and @file("path") are supported`, fn.text)
	}
	if err := p.enter(fn.pos); err != nil {
		return value{}, err
	}
	defer func() { p.depth-- }()
	if err := p.advance(); err != nil {
		return value{}, err
	}
	if err := p.expect(tLParen, `"(" after @env`); err != nil {
		return value{}, err
	}
	if err := p.skipNewlines(); err != nil {
		return value{}, err
	}
	if p.tok.kind == tRParen {
		return value{}, p.errorf(p.tok.pos, "@env needs the name of an environment variable")
	}
	name, err := p.value()
	if err != nil {
		return value{}, err
	}
	if name.kind != kindString || name.str == "" {
		return value{}, p.errorf(name.pos, "@env needs the variable name as a non-empty string, found %s", name.describe())
	}
	if err := p.skipNewlines(); err != nil {
		return value{}, err
	}
	def, hasDefault := value{kind: kindNull, pos: fn.pos}, false
	if p.tok.kind == tComma {
		if err := p.advance(); err != nil {
			return value{}, err
		}
		if err := p.skipNewlines(); err != nil {
			return value{}, err
		}
		if def, err = p.value(); err != nil {
			return value{}, err
		}
		hasDefault = true
		if err := p.skipNewlines(); err != nil {
			return value{}, err
		}
	}
	if p.tok.kind != tRParen {
		what := `")" to close @env`
		if !hasDefault {
			what = `"," or ")" in @env`
		}
		return value{}, p.errorf(p.tok.pos, "expected %s, found %s", what, p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return value{}, err
	}
	if s, ok := p.env[name.str]; ok {
		return value{kind: kindString, str: s, text: true, pos: fn.pos}, nil
	}
	return def, nil
}

// envMap turns KEY=VALUE pairs into a map; the last pair for a key wins,
// as in the process environment.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// maxFileReference bounds what @file reads: a secret, a header, a token.
const maxFileReference = 64 << 10

// fileCall reads @file("path"): the file's contents as text, converted to
// the key's type like @env's, without the final line break (secrets
// mounted by Docker or Kubernetes, or written with echo, end in one). A
// relative path is relative to the configuration file's directory.
func (p *parser) fileCall() (value, error) {
	fn := p.tok
	if err := p.enter(fn.pos); err != nil {
		return value{}, err
	}
	defer func() { p.depth-- }()
	if err := p.advance(); err != nil {
		return value{}, err
	}
	if err := p.expect(tLParen, `"(" after @file`); err != nil {
		return value{}, err
	}
	if err := p.skipNewlines(); err != nil {
		return value{}, err
	}
	arg, err := p.value()
	if err != nil {
		return value{}, err
	}
	if arg.kind != kindString || arg.str == "" {
		return value{}, p.errorf(arg.pos, "@file needs a path as a non-empty string, found %s", arg.describe())
	}
	if err := p.skipNewlines(); err != nil {
		return value{}, err
	}
	if p.tok.kind != tRParen {
		return value{}, p.errorf(p.tok.pos, `expected ")" to close @file, found %s`, p.tok.describe())
	}
	if err := p.advance(); err != nil {
		return value{}, err
	}
	path := arg.str
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(p.lx.file), path)
	}
	text, err := readReference(path)
	if err != nil {
		return value{}, p.errorf(fn.pos, "@file(%q): %v", arg.str, err)
	}
	return value{kind: kindString, str: text, text: true, pos: fn.pos}, nil
}

// readReference reads a small regular file (never a device or a pipe,
// which could block or never end) and drops one final line break.
func readReference(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileReference+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxFileReference {
		return "", fmt.Errorf("larger than %d bytes", maxFileReference)
	}
	text := strings.TrimSuffix(string(data), "\n")
	return strings.TrimSuffix(text, "\r"), nil
}
