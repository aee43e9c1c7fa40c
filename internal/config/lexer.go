package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF     tokKind = iota
	tNewline         // end of a statement outside brackets
	tWord            // a bare run of characters: key, section path, number, true, false, null
	tString          // a quoted string, escapes decoded
	tVar             // $name
	tFunc            // @name
	tLBrack
	tRBrack
	tLParen
	tRParen
	tComma
	tColon
	tEquals
)

type token struct {
	kind tokKind
	text string // word, decoded string, or the name after $ / @
	pos  Pos
}

// describe names a token in an error message.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tNewline:
		return "end of line"
	case tWord:
		return strconv.Quote(t.text)
	case tString:
		return "string " + strconv.Quote(t.text)
	case tVar:
		return "$" + t.text
	case tFunc:
		return "@" + t.text
	case tLBrack:
		return `"["`
	case tRBrack:
		return `"]"`
	case tLParen:
		return `"("`
	case tRParen:
		return `")"`
	case tComma:
		return `","`
	case tColon:
		return `":"`
	case tEquals:
		return `"="`
	}
	return "token"
}

// lexer turns a document into tokens. Comments and blank space vanish;
// newlines stay because a statement ends at the end of its line.
type lexer struct {
	file string
	src  string
	off  int
	pos  Pos
}

func newLexer(file string, src []byte) *lexer {
	s := string(src)
	s = strings.TrimPrefix(s, "\uFEFF") // editors on Windows write a BOM
	return &lexer{file: file, src: s, pos: Pos{Line: 1, Col: 1}}
}

func (l *lexer) errorf(p Pos, format string, args ...any) error {
	return p.errorf(l.file, ErrSyntax, format, args...)
}

// peekRune returns the rune at the current offset, utf8.RuneError with
// size 1 for an invalid byte, and size 0 at the end.
func (l *lexer) peekRune() (rune, int) {
	if l.off >= len(l.src) {
		return 0, 0
	}
	if c := l.src[l.off]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(l.src[l.off:])
}

func (l *lexer) advance(size int, r rune) {
	l.off += size
	if r == '\n' {
		l.pos.Line++
		l.pos.Col = 1
	} else {
		l.pos.Col++
	}
}

// isWordByte reports the bytes of a bare word: printable ASCII except
// whitespace and the characters the grammar gives a meaning to. Paths,
// subjects and URLs typed without quotes lex as one word, so the error can
// say "quote this" about the whole of it.
func isWordByte(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune("#\"'[](),:=$@{}", rune(c))
}

func (l *lexer) next() (token, error) {
	for {
		r, size := l.peekRune()
		start := l.pos
		switch {
		case size == 0:
			return token{kind: tEOF, pos: start}, nil
		case r == utf8.RuneError && size == 1:
			return token{}, l.errorf(start, "invalid UTF-8")
		case r == ' ' || r == '\t' || r == '\r':
			l.advance(size, r)
			continue
		case r == '#':
			for {
				r, size := l.peekRune()
				if size == 0 || r == '\n' {
					break
				}
				if r == utf8.RuneError && size == 1 {
					return token{}, l.errorf(l.pos, "invalid UTF-8")
				}
				l.advance(size, r)
			}
			continue
		case r == '\n':
			l.advance(size, r)
			return token{kind: tNewline, pos: start}, nil
		case r == '"' || r == '\'':
			s, err := l.quoted(r)
			if err != nil {
				return token{}, err
			}
			return token{kind: tString, text: s, pos: start}, nil
		case r == '$' || r == '@':
			l.advance(size, r)
			name := l.word()
			if !isName(name) {
				return token{}, l.errorf(start, "%c must be followed by a name", r)
			}
			kind := tVar
			if r == '@' {
				kind = tFunc
			}
			return token{kind: kind, text: name, pos: start}, nil
		}
		if kind, ok := punct[r]; ok {
			l.advance(size, r)
			return token{kind: kind, pos: start}, nil
		}
		if r < utf8.RuneSelf && isWordByte(byte(r)) {
			return token{kind: tWord, text: l.word(), pos: start}, nil
		}
		if r < ' ' || r == 0x7f {
			return token{}, l.errorf(start, "unexpected control character %U", r)
		}
		return token{}, l.errorf(start, "unexpected character %q", r)
	}
}

var punct = map[rune]tokKind{
	'[': tLBrack, ']': tRBrack, '(': tLParen, ')': tRParen,
	',': tComma, ':': tColon, '=': tEquals,
}

// word consumes a run of word bytes (all ASCII, one column each).
func (l *lexer) word() string {
	start := l.off
	for l.off < len(l.src) && isWordByte(l.src[l.off]) {
		l.off++
		l.pos.Col++
	}
	return l.src[start:l.off]
}

// quoted consumes a string opened by quote. Double quotes take the usual
// escapes; single quotes take none, so Windows paths and regexps need no
// doubling.
func (l *lexer) quoted(quote rune) (string, error) {
	open := l.pos
	l.advance(1, quote)
	var b strings.Builder
	for {
		r, size := l.peekRune()
		at := l.pos
		switch {
		case size == 0 || r == '\n':
			return "", l.errorf(open, "unterminated string")
		case r == utf8.RuneError && size == 1:
			return "", l.errorf(at, "invalid UTF-8 in string")
		case r == quote:
			l.advance(size, r)
			return b.String(), nil
		case r == '\\' && quote == '"':
			l.advance(size, r)
			esc, err := l.escape(at)
			if err != nil {
				return "", err
			}
			b.WriteRune(esc)
			continue
		case r < ' ' && r != '\t' || r == 0x7f:
			return "", l.errorf(at, "control character %U in string; write it as an escape", r)
		}
		b.WriteRune(r)
		l.advance(size, r)
	}
}

var simpleEscapes = map[rune]rune{
	'n': '\n', 't': '\t', 'r': '\r', 'b': '\b', 'f': '\f',
	'\\': '\\', '"': '"', '\'': '\'', '/': '/',
}

// escape decodes the escape after a backslash at pos at.
func (l *lexer) escape(at Pos) (rune, error) {
	r, size := l.peekRune()
	if size == 0 || r == '\n' {
		return 0, l.errorf(at, "unterminated escape")
	}
	if v, ok := simpleEscapes[r]; ok {
		l.advance(size, r)
		return v, nil
	}
	digits := map[rune]int{'u': 4, 'U': 8}[r]
	if digits == 0 {
		if r == utf8.RuneError && size == 1 {
			return 0, l.errorf(at, "invalid UTF-8 in string")
		}
		return 0, l.errorf(at, "invalid escape \\%c", r)
	}
	l.advance(size, r)
	if l.off+digits > len(l.src) {
		return 0, l.errorf(at, "\\%c needs %d hex digits", r, digits)
	}
	hex := l.src[l.off : l.off+digits]
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil || strings.ContainsAny(hex, "+-_") {
		return 0, l.errorf(at, "\\%c needs %d hex digits, got %q", r, digits, hex)
	}
	for range digits {
		l.advance(1, 'x')
	}
	if !utf8.ValidRune(rune(v)) {
		return 0, l.errorf(at, "\\%c%s is not a valid character", r, hex)
	}
	return rune(v), nil
}

// isName reports whether s can be a key, variable, function or section name.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
