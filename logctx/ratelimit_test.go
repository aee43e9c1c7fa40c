package logctx_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetflow/jetflow/logctx"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

// A client that makes the services warn on every request (a reply subject
// that is not an inbox, say) gets one line per interval, and the next line
// says how many were left out; other lines and lower levels pass.
func TestRateLimitRepeatedWarnings(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	const every = 200 * time.Millisecond
	log := slog.New(logctx.RateLimit(slog.NewTextHandler(&out, nil), every))
	for i := range 1000 {
		log.Warn("request refused: its reply subject is not an inbox", "reply", i)
		log.With("service", "q").Error("query failed", "n", i)
	}
	log.Info("command refused")
	log.Info("command refused")
	if got := out.lines(); len(got) != 4 {
		t.Fatalf("%d lines, want 4 (one per warning, two infos):\n%s", len(got), strings.Join(got, "\n"))
	}
	time.Sleep(every + 50*time.Millisecond)
	log.Warn("request refused: its reply subject is not an inbox", "reply", "x")
	got := out.lines()
	if last := got[len(got)-1]; !strings.Contains(last, "suppressed=999") {
		t.Fatalf("after the interval: %s", last)
	}
}
