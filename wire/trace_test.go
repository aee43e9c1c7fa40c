package wire_test

import (
	"context"
	"testing"

	"github.com/jetflow/jetflow/wire"
)

func TestCarryAndParse(t *testing.T) {
	t.Parallel()
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := wire.WithTraceParent(context.Background(), tp)
	if wire.TraceParent(ctx) != tp || wire.TraceParent(context.Background()) != "" {
		t.Fatal("traceparent not carried")
	}
	if wire.WithTraceParent(ctx, "") != ctx {
		t.Fatal("an empty traceparent must not replace the carried one")
	}
	if id := wire.TraceID(tp); id != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("trace id %q", id)
	}
	for _, bad := range []string{"", "00-abc-def-01", "garbage",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // uppercase
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace id
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero parent id
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // forbidden version
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", // version 00 has no more fields
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"00-4bf92f3577b34da6a3ce929d0e0e4736x00f067aa0ba902b7-01",
	} {
		if wire.TraceID(bad) != "" || wire.ValidTraceParent(bad) {
			t.Fatalf("%q accepted as a traceparent", bad)
		}
	}
	if wire.ValidTraceParent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future") {
		t.Fatal("a later version's extra field that is not hex must be refused")
	}
	if !wire.ValidTraceParent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-ab12") {
		t.Fatal("a later version's extra field must be accepted")
	}
}

// FuzzTraceParent: any header value is judged without panicking, and one
// judged valid yields its 32-digit trace id.
func FuzzTraceParent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
	f.Add("00-abc-def-01")
	f.Fuzz(func(t *testing.T, tp string) {
		id := wire.TraceID(tp)
		if wire.ValidTraceParent(tp) != (id != "") || (id != "" && len(id) != 32) {
			t.Fatalf("%q: valid %v, trace id %q", tp, wire.ValidTraceParent(tp), id)
		}
	})
}
