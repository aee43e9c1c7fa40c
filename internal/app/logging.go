package app

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jetflow/jetflow/logctx"
)

// newLogger builds the process logger from --log-level and --log-format.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(processHandler(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(processHandler(slog.NewJSONHandler(w, opts))), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// warnEvery is how often one warning (or error) line may repeat: clients
// can make the services warn on every request they send.
const warnEvery = 10 * time.Second

// processHandler is what every logger of a jetflow process writes through:
// the context's correlation ids, and repeated warnings rate-limited.
func processHandler(h slog.Handler) slog.Handler {
	return logctx.Handler(logctx.RateLimit(h, warnEvery))
}
