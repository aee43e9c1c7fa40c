package config

import (
	"errors"
	"fmt"
)

// Sentinels, matched with errors.Is through SyntaxError and FieldError.
var (
	// ErrSyntax marks a document that is not well-formed TuskLang.
	ErrSyntax = errors.New("config: syntax error")
	// ErrUnknownSection marks a [section] header the platform does not have.
	ErrUnknownSection = errors.New("config: unknown section")
	// ErrUnknownKey marks a key, dotted key or JETFLOW_* variable the platform does not have.
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrType marks a value of the wrong type for its key.
	ErrType = errors.New("config: wrong type")
	// ErrDuplicateKey marks a key set twice in one document.
	ErrDuplicateKey = errors.New("config: duplicate key")
	// ErrUndefinedVariable marks a $name used before it was defined.
	ErrUndefinedVariable = errors.New("config: undefined variable")
	// ErrInvalid marks a well-typed value that Validate rejects.
	ErrInvalid = errors.New("config: invalid value")
)

// SyntaxError is a problem at a position in a TuskLang document. It prints
// as file:line:col: msg, the form editors and terminals jump to.
type SyntaxError struct {
	File string // as given to Load or Decode; empty for anonymous input
	Line int    // 1-based
	Col  int    // 1-based, counted in characters (runes)
	Msg  string
	// Err is the sentinel the problem belongs to (ErrSyntax, ErrUnknownKey…).
	Err error
}

func (e *SyntaxError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// FieldError is a problem with one setting named by its dotted key
// (events.replicas, topics.orders.backoff), from Set or Validate.
type FieldError struct {
	Key string
	Msg string
	// Err is the sentinel the problem belongs to (ErrInvalid, ErrType, ErrUnknownKey).
	Err error
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

func (e *FieldError) Unwrap() error { return e.Err }

// Pos is a position in a document.
type Pos struct {
	Line, Col int
}

func (p Pos) errorf(file string, sentinel error, format string, args ...any) *SyntaxError {
	return &SyntaxError{File: file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}
