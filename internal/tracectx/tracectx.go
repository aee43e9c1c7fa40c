package tracectx

import (
	"context"
	"strings"
)

type key struct{}

// With returns ctx carrying traceparent; an empty one leaves ctx as it is.
func With(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return context.WithValue(ctx, key{}, traceparent)
}

// From returns the traceparent ctx carries, or "".
func From(ctx context.Context) string {
	tp, _ := ctx.Value(key{}).(string)
	return tp
}

// TraceID returns the trace id of a "00-<trace id>-<span id>-<flags>"
// traceparent, or "" when it is not one.
func TraceID(traceparent string) string {
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 || len(parts[1]) != 32 {
		return ""
	}
	return parts[1]
}
