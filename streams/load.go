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
	return s.upcast(s.loadCommits(ctx, s.Subject(aggregateType, aggregateID), after))
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

// scan yields the stored events of the messages matching filter from
// sequence `from` on, as stored (no upcasting); limit > 0 stops after that
// many messages (a commit's events are yielded together).
func (s *Store) scan(ctx context.Context, filter string, from uint64, limit int) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		seen := 0
		for {
			n := s.pageSize
			if limit > 0 {
				n = min(n, limit-seen)
			}
			stopped := false
			more, last, err := s.gets.page(ctx, s.cfg.EventStream, filter, from, n, false, func(m *storedMsg) bool {
				evs, err := DecodeEvents(m.subject, m.header, m.data, m.sequence)
				if err != nil {
					yield(Event{}, err)
					stopped = true
					return false
				}
				for _, ev := range evs {
					if !yield(ev, nil) {
						stopped = true
						return false
					}
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

// loadCommits yields an aggregate's events after sequence `after`, asking
// the server for the bodies of its commits only: no header is copied,
// added, sent or parsed, which was most of the cost of a load. A body
// does not carry its own sequence, but the next commit of the aggregate
// carries it as its prev (the expectation the server checked when it
// stored that commit), and the end of the batch names the last one's. So a
// commit is yielded once the next one (or the end of the batch) is read.
//
// A message of the format before commits (no commit magic), or two
// commits whose versions do not follow each other (a message removed in
// between, so a prev that is not the previous commit's sequence), cannot
// be read this way: the load goes on from the last event it yielded,
// reading headers (scan).
func (s *Store) loadCommits(ctx context.Context, subject string, after uint64) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		from := after + 1
		done := after // the sequence of the last commit yielded
		var held []byte
		var heldHead, doneHead commitHead // doneHead: of the commit at done, once one is yielded
		stopped, fallback := false, false
		var decoded []Event // reused: events are yielded by value
		emit := func(body []byte, seq uint64) bool {
			_, evs, err := decodeCommitInto(decoded, body, seq)
			decoded = evs
			if err != nil {
				yield(Event{}, fmt.Errorf("%w (subject %q, sequence %d): %w", ErrMalformedEvent, subject, seq, err))
				return false
			}
			for _, ev := range evs {
				if !yield(ev, nil) {
					return false
				}
			}
			done, doneHead = seq, heldHead
			return true
		}
		for !stopped && !fallback {
			more, last, err := s.gets.page(ctx, s.cfg.EventStream, subject, from, s.pageSize, true, func(m *storedMsg) bool {
				if !isCommit(m.data) {
					fallback = true
					return false
				}
				head, err := readCommitHead(m.data)
				if err != nil {
					fallback = true // scan names the message and what is wrong
					return false
				}
				switch {
				case held != nil:
					if head.firstVersion != heldHead.lastVersion()+1 || head.prev <= done {
						fallback = true
						return false
					}
					if !emit(held, head.prev) {
						stopped = true
						return false
					}
				case doneHead.count > 0:
					// The first of a page follows the last of the one before.
					if head.firstVersion != doneHead.lastVersion()+1 || head.prev != done {
						fallback = true
						return false
					}
				}
				held, heldHead = m.data, head
				return true
			})
			switch {
			case stopped:
				return
			case err != nil:
				yield(Event{}, fmt.Errorf("streams: read %s from %d: %w", subject, from, err))
				return
			case fallback:
			case held != nil && last > done:
				if !emit(held, last) {
					return
				}
				held = nil
				if !more {
					return
				}
				from = last + 1
			case held != nil:
				fallback = true // no word of the last sequence
			default:
				return // nothing after from
			}
		}
		for ev, err := range s.scan(ctx, subject, done+1, 0) {
			if !yield(ev, err) || err != nil {
				return
			}
		}
	}
}
