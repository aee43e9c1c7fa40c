package wire

import (
	"context"
	"strings"
)

// A change's trace context travels in its context, so that what the change
// causes (the events a command writes, the messages a handler publishes,
// the log lines of both) keeps its trace id without every caller threading
// it by hand. No exporter is needed: the header itself is what travels.

type traceKey struct{}

// WithTraceParent returns ctx carrying traceparent; an empty one leaves
// ctx as it is.
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, traceparent)
}

// TraceParent returns the traceparent ctx carries, or "".
func TraceParent(ctx context.Context) string {
	tp, _ := ctx.Value(traceKey{}).(string)
	return tp
}

// TraceID returns the trace id of a W3C traceparent
// ("<version>-<trace id>-<parent id>-<flags>"), or "" when it is not one.
func TraceID(traceparent string) string {
	if !ValidTraceParent(traceparent) {
		return ""
	}
	return traceparent[3:35]
}

// ValidTraceParent reports whether traceparent is a W3C traceparent: lowercase hex
// fields of 2, 32, 16 and 2 digits, version not ff, trace and parent ids
// not all zeros. Later versions may append fields after a dash. An invalid
// one must be dropped, not passed on (W3C Trace Context, section 3.2).
func ValidTraceParent(traceparent string) bool {
	if len(traceparent) < 55 || len(traceparent) > maxTraceParentLen || (len(traceparent) > 55 && traceparent[55] != '-') {
		return false
	}
	// A later version's extra fields are hex and dashes too; anything
	// else could not travel in a header anyway.
	for i := 55; i < len(traceparent); i++ {
		if c := traceparent[i]; c != '-' && (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	parts := strings.SplitN(traceparent[:55], "-", 4)
	if len(parts) != 4 || len(parts[0]) != 2 || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return false
	}
	for _, p := range parts {
		if !lowerHex(p) {
			return false
		}
	}
	if parts[0] == "ff" || (parts[0] == "00" && len(traceparent) != 55) {
		return false
	}
	return strings.Trim(parts[1], "0") != "" && strings.Trim(parts[2], "0") != ""
}

// maxTraceParentLen bounds a traceparent of a later version with extra fields.
const maxTraceParentLen = 256

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
