package rpc

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Request headers a client may send with a command or query.
const (
	HeaderCommandID       = "Jetflow-Command-Id"
	HeaderCorrelationID   = "Jetflow-Correlation-Id"
	HeaderUserID          = "Jetflow-User-Id"
	HeaderExpectedVersion = "Jetflow-Expected-Version"
	HeaderTraceParent     = "traceparent"
	// HeaderSequence on a query reply is the stream sequence the read
	// model had applied when it answered.
	HeaderSequence = "Jetflow-Sequence"
	// HeaderDuplicate on a command reply is "true" when the request was a
	// resend answered from the first run of its Jetflow-Command-Id.
	HeaderDuplicate = "Jetflow-Duplicate"
)

// Status codes of error replies (DESIGN.md).
const (
	StatusInvalid     = 400
	StatusNotFound    = 404
	StatusConflict    = 409
	StatusTooLarge    = 413
	StatusInternal    = 500
	StatusUnavailable = 503
	StatusTimeout     = 504
)

// Error codes carried in the reply body.
const (
	CodeValidation     = "validation"
	CodeNotFound       = "not_found"
	CodeUnknownCommand = "unknown_command"
	CodeUnknownQuery   = "unknown_query"
	CodeConflict       = "conflict"
	CodeTooLarge       = "too_large"
	CodeInternal       = "internal"
	CodeUnavailable    = "unavailable"
	CodeTimeout        = "timeout"
	CodeBehind         = "read_model_behind"
)

// Error is an error reply: a status, a code and a message for the client.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Errorf builds an Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorBody is the JSON body of an error reply.
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

// RespondErrorMsg answers a plain NATS request the same way, for
// subscriptions outside a micro service.
func RespondErrorMsg(msg *nats.Msg, e *Error) error {
	reply := nats.NewMsg(msg.Reply)
	reply.Header.Set(micro.ErrorHeader, e.Message)
	reply.Header.Set(micro.ErrorCodeHeader, strconv.Itoa(e.Status))
	reply.Data = e.Body()
	return msg.RespondMsg(reply)
}

// ParseErrorReply returns the Error in a reply, or nil when it is a success.
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

// HeaderValue validates an optional request header: printable, at most max bytes.
func HeaderValue(h nats.Header, name string, max int) (string, *Error) {
	v := h.Get(name)
	if len(v) > max {
		return "", Errorf(StatusInvalid, CodeValidation, "header %s is %d bytes, at most %d allowed", name, len(v), max)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return "", Errorf(StatusInvalid, CodeValidation, "header %s contains control characters", name)
		}
	}
	return v, nil
}

// CommandReply is the JSON body of a successful command reply.
type CommandReply struct {
	AggregateID string `json:"aggregate_id"`
	Version     uint64 `json:"version"`
	Sequence    uint64 `json:"sequence"`
	// Duplicate marks a resend answered from the first run of its
	// Jetflow-Command-Id: nothing was written for it.
	Duplicate bool `json:"duplicate,omitempty"`
}
