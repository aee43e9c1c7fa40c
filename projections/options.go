package projections

import (
	"context"
	"log/slog"
)

// Option configures a Runner, a View, a QueryService or an Admin: the
// logger and the metrics reach every part of the read side the same way.
type Option func(*options)

type options struct {
	logger         *slog.Logger
	metrics        Metrics
	authorizeQuery func(context.Context, QueryAuthorization) error
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithMetrics sets the metrics sink (default: none), e.g. the Prometheus
// adapter of package metrics.
func WithMetrics(m Metrics) Option { return func(o *options) { o.metrics = m } }

// apply sets cfg's logger and metrics from opts.
func (c Config) apply(opts []Option) Config {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger != nil {
		c.logger = o.logger
	}
	if o.metrics != nil {
		c.metrics = o.metrics
	}
	return c
}
