package natsserver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// slogAdapter routes the server's printf-style log calls into slog, and
// keeps the first fatal message: the server reports why it cannot start
// (a port in use, a store dir it cannot use) only there.
type slogAdapter struct {
	l *slog.Logger

	mu    sync.Mutex
	fatal string
}

func (a *slogAdapter) firstFatal() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatal
}

func (a *slogAdapter) log(level slog.Level, format string, v ...any) {
	if a.l.Enabled(context.Background(), level) {
		a.l.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "nats-server")
	}
}

func (a *slogAdapter) Noticef(format string, v ...any) { a.log(slog.LevelInfo, format, v...) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.log(slog.LevelWarn, format, v...) }
func (a *slogAdapter) Fatalf(format string, v ...any) {
	a.mu.Lock()
	if a.fatal == "" {
		a.fatal = fmt.Sprintf(format, v...)
	}
	a.mu.Unlock()
	a.log(slog.LevelError, format, v...)
}
func (a *slogAdapter) Errorf(format string, v ...any) { a.log(slog.LevelError, format, v...) }
func (a *slogAdapter) Debugf(format string, v ...any) { a.log(slog.LevelDebug, format, v...) }
func (a *slogAdapter) Tracef(format string, v ...any) { a.log(slog.LevelDebug-4, format, v...) }
