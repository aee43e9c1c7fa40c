package aggregates

import (
	"context"
	"log/slog"
)

// RepositoryOption configures a Repository (NewRepository).
type RepositoryOption interface{ applyRepository(*repoOptions) }

// ServiceOption configures a command Service (NewService).
type ServiceOption interface{ applyService(*serviceOptions) }

// Option configures a Repository and a Service alike: the logger and the
// metrics reach every part of the write side the same way.
type Option interface {
	RepositoryOption
	ServiceOption
}

type repoOptions struct {
	snapshotEvery   int
	snapshotSchema  int
	cacheSize       int
	conflictRetries int
	log             *slog.Logger
	metrics         Metrics
}

type serviceOptions struct {
	log       *slog.Logger
	metrics   Metrics
	authorize func(context.Context, Authorization) error
}

type repositoryOption func(*repoOptions)

func (f repositoryOption) applyRepository(o *repoOptions) { f(o) }

type sharedOption struct {
	log     *slog.Logger
	metrics Metrics
}

func (s sharedOption) applyRepository(o *repoOptions) {
	if s.log != nil {
		o.log = s.log
	}
	if s.metrics != nil {
		o.metrics = s.metrics
	}
}

func (s sharedOption) applyService(o *serviceOptions) {
	if s.log != nil {
		o.log = s.log
	}
	if s.metrics != nil {
		o.metrics = s.metrics
	}
}

// WithLogger sets the logger (default: discard). Log lines written while
// a command runs carry its correlation id in their context (logctx).
func WithLogger(l *slog.Logger) Option { return sharedOption{log: l} }

// WithMetrics sets the metrics sink (default: none), e.g. the Prometheus
// adapter of package metrics.
func WithMetrics(m Metrics) Option { return sharedOption{metrics: m} }

// WithSnapshotEvery snapshots every n events (default 10; 0 or less: never).
func WithSnapshotEvery(n int) RepositoryOption {
	return repositoryOption(func(o *repoOptions) { o.snapshotEvery = n })
}

// WithSnapshotSchema versions the state's snapshot shape; snapshots of
// another schema are ignored and the aggregate is replayed in full.
func WithSnapshotSchema(v int) RepositoryOption {
	return repositoryOption(func(o *repoOptions) { o.snapshotSchema = v })
}

// WithCacheSize bounds the cache of recently used aggregates (0 or less: no cache).
func WithCacheSize(n int) RepositoryOption {
	return repositoryOption(func(o *repoOptions) { o.cacheSize = n })
}

// WithConflictRetries sets how often a command without an expected version
// is decided again after a concurrency conflict (default 10).
func WithConflictRetries(n int) RepositoryOption {
	return repositoryOption(func(o *repoOptions) { o.conflictRetries = n })
}
