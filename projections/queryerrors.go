package projections

import (
	"errors"
	"fmt"
)

var (
	// ErrQueryNotFound marks a query for something the read model does
	// not hold (404 not_found).
	ErrQueryNotFound = errors.New("projections: not found")
	// ErrQueryInvalid marks a query whose input the handler refuses
	// (400 validation).
	ErrQueryInvalid = errors.New("projections: invalid query")
	// ErrQueryConflict marks a query that cannot be answered in the
	// read model's present state (409 conflict).
	ErrQueryConflict = errors.New("projections: query conflict")
)

// QueryError is a query handler's refusal, with a message meant for the
// client. The query service answers it with the status and code of its
// Kind, also when the handler wrapped it with %w.
type QueryError struct {
	Kind    error // ErrQueryNotFound, ErrQueryInvalid, ErrQueryConflict or ErrQueryForbidden
	Message string
}

func (e *QueryError) Error() string { return e.Message }
func (e *QueryError) Unwrap() error { return e.Kind }

// NotFound returns a not-found refusal (404), for a record the read
// model does not hold.
func NotFound(format string, args ...any) error {
	return queryErrorf(ErrQueryNotFound, format, args...)
}

func queryErrorf(kind error, format string, args ...any) error {
	return &QueryError{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation refusal (400), for query input the
// handler cannot answer (a page size too large, a filter it does not know).
func Invalid(format string, args ...any) error {
	return queryErrorf(ErrQueryInvalid, format, args...)
}

// Conflict returns a conflict refusal (409).
func Conflict(format string, args ...any) error {
	return queryErrorf(ErrQueryConflict, format, args...)
}
