package logctx

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// maxLimited bounds the distinct lines RateLimit remembers: messages are
// the program's own constants, so a few hundred is plenty, and a flood of
// distinct ones cannot grow the map without end.
const maxLimited = 1024

// RateLimit returns a handler that lets a Warn or Error line through at
// most once per interval per message (and level); the next one let
// through carries suppressed=N, the count left out. A client that can make
// a service warn on each request (a refused reply subject, a failing
// query) then cannot flood the log. Debug and Info pass untouched.
func RateLimit(h slog.Handler, every time.Duration) slog.Handler {
	return &limiter{Handler: h, every: every, state: &limitState{seen: map[limitKey]*limitEntry{}}}
}

type limitKey struct {
	level slog.Level
	msg   string
}

type limitEntry struct {
	last       time.Time
	suppressed int
}

// limitState is shared by every handler derived with WithAttrs/WithGroup,
// so a logger.With(...) per request does not escape the limit.
type limitState struct {
	mu   sync.Mutex
	seen map[limitKey]*limitEntry
}

type limiter struct {
	slog.Handler
	every time.Duration
	state *limitState
}

func (l *limiter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return l.Handler.Handle(ctx, r)
	}
	k := limitKey{r.Level, r.Message}
	l.state.mu.Lock()
	e, ok := l.state.seen[k]
	if !ok {
		if len(l.state.seen) >= maxLimited {
			clear(l.state.seen)
		}
		e = &limitEntry{}
		l.state.seen[k] = e
	}
	if ok && r.Time.Sub(e.last) < l.every {
		e.suppressed++
		l.state.mu.Unlock()
		return nil
	}
	suppressed := e.suppressed
	e.last, e.suppressed = r.Time, 0
	l.state.mu.Unlock()
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return l.Handler.Handle(ctx, r)
}

func (l *limiter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &limiter{Handler: l.Handler.WithAttrs(attrs), every: l.every, state: l.state}
}

func (l *limiter) WithGroup(name string) slog.Handler {
	return &limiter{Handler: l.Handler.WithGroup(name), every: l.every, state: l.state}
}
