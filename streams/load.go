package streams

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
)

const headerNumPending = "Nats-Num-Pending"

// Load yields the aggregate's events stored after sequence `after`, in
// order, upcast to their current schema. It reads with batched direct gets
// filtered on the aggregate's subject, page by page, so other aggregates'
// events are never read and a long history is never held in memory at once.
// An aggregate without events yields nothing. Under a ctx without deadline,
// a page the server has not answered within the JetStream context's default
// timeout ends the iteration with an error matching
// context.DeadlineExceeded; a closed connection ends it at once.
func (s *Store) Load(ctx context.Context, aggregateType, aggregateID string, after uint64) iter.Seq2[Event, error] {
	if err := errors.Join(ValidateAggregateType(aggregateType), ValidateAggregateID(aggregateID)); err != nil {
		return func(yield func(Event, error) bool) { yield(Event{}, err) }
	}
	if after == math.MaxUint64 {
		// No sequence follows; after+1 would wrap to the start.
		return func(func(Event, error) bool) {}
	}
	return s.upcast(s.scan(ctx, s.Subject(aggregateType, aggregateID), after+1, 0))
}

// ReadAll yields every event from stream sequence `from` on in global stream
// order, only those of aggregateType when it is not empty. For replays and
// one-off reads; projections follow the stream with durable consumers.
func (s *Store) ReadAll(ctx context.Context, from uint64, aggregateType string) iter.Seq2[Event, error] {
	filter := s.AllSubject()
	if aggregateType != "" {
		if err := ValidateAggregateType(aggregateType); err != nil {
			return func(yield func(Event, error) bool) { yield(Event{}, err) }
		}
		filter = s.TypeSubject(aggregateType)
	}
	return s.upcast(s.scan(ctx, filter, max(from, 1), 0))
}

func (s *Store) upcast(events iter.Seq2[Event, error]) iter.Seq2[Event, error] {
	if s.upcasters == nil {
		return events
	}
	return func(yield func(Event, error) bool) {
		for ev, err := range events {
			if err == nil {
				err = s.upcasters.Apply(&ev)
			}
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}

// scan yields the stored events matching filter from sequence `from` on,
// as stored (no upcasting); limit > 0 stops after that many.
func (s *Store) scan(ctx context.Context, filter string, from uint64, limit int) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		seen := 0
		for {
			n := s.pageSize
			if limit > 0 {
				n = min(n, limit-seen)
			}
			stopped := false
			more, last, err := s.gets.page(ctx, s.cfg.EventStream, filter, from, n, func(m *storedMsg) bool {
				ev, err := DecodeMessage(m.subject, m.header, m.data, m.sequence)
				if !yield(ev, err) || err != nil {
					stopped = true
					return false
				}
				seen++
				return limit == 0 || seen < limit
			})
			if stopped {
				return
			}
			if err != nil {
				yield(Event{}, fmt.Errorf("streams: read %s from %d: %w", filter, from, err))
				return
			}
			if !more || (limit > 0 && seen >= limit) {
				return
			}
			from = last + 1
		}
	}
}
