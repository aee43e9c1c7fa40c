package logctx_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/jetflow/jetflow/logctx"
)

func TestContextAttributesReachEveryLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(logctx.Handler(slog.NewTextHandler(&buf, nil))).With("component", "test")
	ctx := logctx.With(context.Background(), "correlation_id", "corr-1")
	ctx = logctx.With(ctx, "aggregate_id", "u1")
	log.InfoContext(ctx, "decided")
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if !strings.Contains(lines[0], "correlation_id=corr-1") || !strings.Contains(lines[0], "aggregate_id=u1") || !strings.Contains(lines[0], "component=test") {
		t.Fatalf("line lacks context attributes: %s", lines[0])
	}
	if strings.Contains(lines[1], "correlation_id") {
		t.Fatalf("a line without context got attributes: %s", lines[1])
	}
}
