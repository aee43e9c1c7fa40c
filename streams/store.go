package streams

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultSource is written as Jetflow-Source when the caller names none.
const DefaultSource = "jetflow"

// Store is the event store: append with optimistic concurrency, load an
// aggregate's events and read the whole stream, on the EVENTS stream.
// It is safe for concurrent use.
type Store struct {
	js        jetstream.JetStream
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	upcasters *Upcasters
	source    string
	pageSize  int
	gets      *directGets
}

// Option configures a Store.
type Option func(*Store)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithClock sets the clock that stamps occurred-at (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithUpcasters applies u to every event read, so old schemas load in the current shape.
func WithUpcasters(u *Upcasters) Option { return func(s *Store) { s.upcasters = u } }

// WithSource sets the Jetflow-Source written on events that name none.
func WithSource(source string) Option { return func(s *Store) { s.source = source } }

// WithPageSize sets how many events one batched direct get returns (default 1024).
func WithPageSize(n int) Option { return func(s *Store) { s.pageSize = n } }

// NewStore returns a store over js. The stream must exist (see Provision).
func NewStore(js jetstream.JetStream, cfg Config, opts ...Option) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		js:       js,
		cfg:      cfg.withDefaults(),
		log:      slog.New(slog.DiscardHandler),
		now:      time.Now,
		source:   DefaultSource,
		pageSize: 1024,
		gets:     newDirectGets(js),
	}
	for _, o := range opts {
		o(s)
	}
	if s.pageSize < 1 {
		return nil, fmt.Errorf("streams: page size %d must be positive", s.pageSize)
	}
	if problem := headerValueProblem(s.source); problem != "" {
		// Else every append would be refused for it.
		return nil, fmt.Errorf("streams: source %q %s", truncate(s.source), problem)
	}
	return s, nil
}

// Close releases the store's reply subscription. The store must not be
// used afterwards; closing the connection releases it too.
func (s *Store) Close() error { return s.gets.close() }

// Config returns the store's effective configuration.
func (s *Store) Config() Config { return s.cfg }

// JetStream returns the JetStream context the store writes through.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// Subject is the subject of one aggregate's events. Validate the parts first.
func (s *Store) Subject(aggregateType, aggregateID string) string {
	return s.cfg.SubjectPrefix + "." + aggregateType + "." + aggregateID
}

// TypeSubject is the subject filter of every aggregate of one type.
func (s *Store) TypeSubject(aggregateType string) string {
	return s.cfg.SubjectPrefix + "." + aggregateType + ".>"
}

// AllSubject is the subject filter of every event.
func (s *Store) AllSubject() string { return s.cfg.SubjectPrefix + ".>" }

// NewEventID returns a new UUIDv7, time ordered.
func NewEventID() string {
	return uuid.Must(uuid.NewV7()).String()
}
