package tracectx_test

import (
	"context"
	"testing"

	"github.com/jetflow/jetflow/internal/tracectx"
)

func TestCarryAndParse(t *testing.T) {
	t.Parallel()
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := tracectx.With(context.Background(), tp)
	if tracectx.From(ctx) != tp || tracectx.From(context.Background()) != "" {
		t.Fatal("traceparent not carried")
	}
	if tracectx.With(ctx, "") != ctx {
		t.Fatal("an empty traceparent must not replace the carried one")
	}
	if id := tracectx.TraceID(tp); id != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("trace id %q", id)
	}
	for _, bad := range []string{"", "00-abc-def-01", "garbage"} {
		if tracectx.TraceID(bad) != "" {
			t.Fatalf("TraceID(%q) should be empty", bad)
		}
	}
}
