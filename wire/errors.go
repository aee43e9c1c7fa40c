package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Status codes of error replies (DESIGN.md), carried in micro's
// Nats-Service-Error-Code header.
const (
	StatusInvalid     = 400
	StatusForbidden   = 403
	StatusNotFound    = 404
	StatusConflict    = 409
	StatusTooLarge    = 413
	StatusInternal    = 500
	StatusUnavailable = 503
	StatusTimeout     = 504
)

// Error codes carried in an error reply's body: finer than the status.
const (
	CodeValidation = "validation"
	// CodeForbidden is a 403: the caller may not do this (an
	// authorization hook refused it).
	CodeForbidden      = "forbidden"
	CodeNotFound       = "not_found"
	CodeUnknownCommand = "unknown_command"
	CodeUnknownQuery   = "unknown_query"
	CodeConflict       = "conflict"
	CodeTooLarge       = "too_large"
	CodeInternal       = "internal"
	CodeUnavailable    = "unavailable"
	CodeTimeout        = "timeout"
	// CodeBehind is a 504 of a query whose read model had not applied its
	// min_sequence within the wait.
	CodeBehind = "read_model_behind"
)

// The kinds of error reply, one per status: errors.Is(err, ErrConflict)
// holds for every *Error with status 409, whatever its code.
var (
	ErrInvalid     = errors.New("invalid request")             // 400
	ErrForbidden   = errors.New("forbidden")                   // 403
	ErrNotFound    = errors.New("not found")                   // 404
	ErrConflict    = errors.New("conflict")                    // 409
	ErrTooLarge    = errors.New("request too large")           // 413
	ErrInternal    = errors.New("internal error")              // 500
	ErrUnavailable = errors.New("service unavailable")         // 503
	ErrTimeout     = errors.New("timed out")                   // 504
	ErrUnknown     = errors.New("error reply of another kind") // any other status
)

// Error is an error reply: a status, a code and a message for the client.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Is matches the sentinel of the error's status (ErrConflict for 409…).
func (e *Error) Is(target error) bool { return target == Kind(e.Status) }

// Kind is the sentinel of a status: ErrConflict for 409, ErrUnknown for a
// status the contract does not name.
func Kind(status int) error {
	switch status {
	case StatusInvalid:
		return ErrInvalid
	case StatusForbidden:
		return ErrForbidden
	case StatusNotFound:
		return ErrNotFound
	case StatusConflict:
		return ErrConflict
	case StatusTooLarge:
		return ErrTooLarge
	case StatusInternal:
		return ErrInternal
	case StatusUnavailable:
		return ErrUnavailable
	case StatusTimeout:
		return ErrTimeout
	}
	return ErrUnknown
}

// Errorf builds an Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorBody is the JSON body of an error reply:
// {"error":{"code":"…","message":"…"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names the error's kind and says what is wrong.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Body encodes the error's JSON body.
func (e *Error) Body() []byte {
	b, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message}})
	return b
}

// Reply is the error reply to send to subject: micro's error headers and
// the JSON body.
func (e *Error) Reply(subject string) *nats.Msg {
	msg := nats.NewMsg(subject)
	msg.Header.Set(micro.ErrorHeader, e.Message)
	msg.Header.Set(micro.ErrorCodeHeader, strconv.Itoa(e.Status))
	msg.Data = e.Body()
	return msg
}

// ParseErrorReply returns the Error a reply carries, or nil when it is a
// success. A reply with an error status but no JSON body (another
// service's) keeps the status and micro's description.
func ParseErrorReply(msg *nats.Msg) *Error {
	code := msg.Header.Get(micro.ErrorCodeHeader)
	if code == "" {
		return nil
	}
	status, _ := strconv.Atoi(code)
	e := &Error{Status: status, Message: msg.Header.Get(micro.ErrorHeader)}
	var body ErrorBody
	if json.Unmarshal(msg.Data, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	}
	return e
}

// HeaderValue returns an optional request header, refused with a 400 when
// it is longer than max bytes or holds control characters.
func HeaderValue(h nats.Header, name string, max int) (string, *Error) {
	v := h.Get(name)
	if len(v) > max {
		return "", Errorf(StatusInvalid, CodeValidation, "header %s is %d bytes, at most %d allowed", name, len(v), max)
	}
	if HasControl(v) {
		return "", Errorf(StatusInvalid, CodeValidation, "header %s contains control characters", name)
	}
	return v, nil
}

// Validator is implemented by a command or query request that checks its
// own input after decoding; its error is answered 400 with its message
// (or with its own status, when it is an *Error or a domain refusal).
type Validator interface{ Validate() error }
