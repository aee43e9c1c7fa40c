package consumers

import (
	"context"
	"log/slog"
	"time"
)

// Logging logs every handler call on logger: failures at Warn with the
// error, successes at Debug. Attributes: subscription, subject, attempt,
// correlation id, duration.
func Logging(logger *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, m *Message) error {
			start := time.Now()
			err := next(ctx, m)
			level := slog.LevelDebug
			if err != nil {
				level = slog.LevelWarn
			}
			if !logger.Enabled(ctx, level) {
				return err
			}
			attrs := []slog.Attr{
				slog.String("subscription", m.Subscription()),
				slog.String("subject", m.Subject()),
				slog.Int("attempt", m.Attempt()),
				slog.Duration("duration", time.Since(start)),
			}
			if id := m.CorrelationID(); id != "" {
				attrs = append(attrs, slog.String("correlation_id", id))
			}
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()), slog.Bool("permanent", IsPermanent(err)))
				logger.LogAttrs(ctx, level, "handler failed", attrs...)
				return err
			}
			logger.LogAttrs(ctx, level, "handled", attrs...)
			return nil
		}
	}
}
