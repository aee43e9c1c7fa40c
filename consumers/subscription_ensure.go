package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// staleConsumer is a stored consumer that differs from its definition.
type staleConsumer struct {
	index int // into the subscription's consumers()
	info  *jetstream.ConsumerInfo
	diffs []SettingDiff
}

// ensureConsumers creates the subscription's missing durable consumers and
// returns them all, in the order of sub.consumers(). A stored consumer that
// differs from its definition is refused with a *SubscriptionMismatchError,
// nothing changed, unless update is set: then it is updated (refused with
// ErrSubscriptionInUse while workers are attached) and the change is logged
// at Warn.
func ensureConsumers(ctx context.Context, js ConsumerManager, sub Subscription, update bool, log *slog.Logger) ([]jetstream.Consumer, error) {
	if err := sub.Validate(); err != nil {
		return nil, err
	}
	sub = sub.withDefaults()
	stream := sub.StreamName()
	defs := sub.consumers()
	out := make([]jetstream.Consumer, len(defs))
	var stale []staleConsumer
	// Look first, change nothing until every level is known to agree.
	for i, d := range defs {
		c, err := js.Consumer(ctx, stream, d.cfg.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue // created below
		}
		if err != nil {
			return nil, sub.provisionError(d.cfg.Durable, err)
		}
		if diffs := diffConsumer(c.CachedInfo().Config, d); len(diffs) > 0 {
			stale = append(stale, staleConsumer{index: i, info: c.CachedInfo(), diffs: diffs})
			continue
		}
		out[i] = c
	}
	if len(stale) > 0 {
		mismatch := sub.mismatch(defs, stale)
		if !update {
			return nil, mismatch
		}
		waiting := 0
		for _, s := range stale {
			waiting += s.info.NumWaiting
		}
		if waiting > 0 {
			return nil, fmt.Errorf("%w: %s has %d pull requests of running workers waiting; stop them before updating it: %w",
				ErrSubscriptionInUse, sub.Name, waiting, mismatch)
		}
	}
	for i, d := range defs {
		if out[i] != nil || slices.ContainsFunc(stale, func(s staleConsumer) bool { return s.index == i }) {
			continue
		}
		// Create, not create-or-update: a worker that starts at the same
		// moment with another definition must not overwrite this one.
		c, err := js.CreateConsumer(ctx, stream, d.cfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			// Created in between with a definition of its own.
			if c, err = js.Consumer(ctx, stream, d.cfg.Durable); err == nil {
				if diffs := diffConsumer(c.CachedInfo().Config, d); len(diffs) > 0 {
					return nil, sub.mismatch(defs, []staleConsumer{{index: i, info: c.CachedInfo(), diffs: diffs}})
				}
			}
		}
		if err != nil {
			return nil, sub.provisionError(d.cfg.Durable, err)
		}
		out[i] = c
	}
	for _, s := range stale {
		d := defs[s.index]
		c, err := js.UpdateConsumer(ctx, stream, d.cfg)
		if err != nil {
			return nil, sub.provisionError(d.cfg.Durable, err)
		}
		out[s.index] = c
		logUpdate(log, stream, d, s, c.CachedInfo())
	}
	return out, nil
}

func (s Subscription) provisionError(durable string, err error) error {
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("consumers: subscription %s: stream %s does not exist (create the topic first): %w", s.Name, s.StreamName(), err)
	}
	return fmt.Errorf("consumers: subscription %s: consumer %s: %w", s.Name, durable, err)
}

// mismatch is the error for the stale consumers, each differing setting
// listed once.
func (s Subscription) mismatch(defs []levelConsumer, stale []staleConsumer) *SubscriptionMismatchError {
	e := &SubscriptionMismatchError{Subscription: s.Name, Stream: s.StreamName()}
	for _, st := range stale {
		e.Consumers = append(e.Consumers, defs[st.index].cfg.Durable)
		for _, d := range st.diffs {
			if !slices.Contains(e.Diffs, d) {
				e.Diffs = append(e.Diffs, d)
			}
		}
	}
	return e
}

// diffConsumer compares the settings of the stored consumer that the
// definition sets. Settings the definition leaves to the server (zero
// values, replicas, metadata, description, the deliver policy that applies
// only at creation) are not compared, so what the server fills in never
// reads as a change.
func diffConsumer(stored jetstream.ConsumerConfig, def levelConsumer) []SettingDiff {
	asked := def.cfg
	var diffs []SettingDiff
	add := func(setting, s, a string) {
		diffs = append(diffs, SettingDiff{Setting: setting, Stored: s, Asked: a})
	}
	sf, af := filtersOf(stored), filtersOf(asked)
	if !sameSet(sf, af) {
		add("filter", showFilters(sf, def.prefix), showFilters(af, def.prefix))
	}
	if stored.AckPolicy != asked.AckPolicy {
		add("ack_policy", stored.AckPolicy.String(), asked.AckPolicy.String())
	}
	if asked.AckWait != 0 && stored.AckWait != asked.AckWait {
		add("ack_wait", stored.AckWait.String(), asked.AckWait.String())
	}
	if asked.MaxDeliver != 0 && stored.MaxDeliver != asked.MaxDeliver {
		add("max_deliver", strconv.Itoa(stored.MaxDeliver), strconv.Itoa(asked.MaxDeliver))
	}
	if asked.MaxAckPending != 0 && stored.MaxAckPending != asked.MaxAckPending {
		add("max_ack_pending", strconv.Itoa(stored.MaxAckPending), strconv.Itoa(asked.MaxAckPending))
	}
	if asked.InactiveThreshold != 0 && stored.InactiveThreshold != asked.InactiveThreshold {
		add("inactive_threshold", stored.InactiveThreshold.String(), asked.InactiveThreshold.String())
	}
	return diffs
}

// filtersOf gathers a consumer's filter subjects, however they are stored.
func filtersOf(c jetstream.ConsumerConfig) []string {
	out := slices.Clone(c.FilterSubjects)
	if c.FilterSubject != "" {
		out = append(out, c.FilterSubject)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// showFilters quotes filters as the operator wrote them: a topic level's
// prefix is cut when every filter has it.
func showFilters(filters []string, prefix string) string {
	if len(filters) == 0 {
		return "(none: every subject)"
	}
	cut := prefix != ""
	for _, f := range filters {
		cut = cut && strings.HasPrefix(f, prefix) && len(f) > len(prefix)
	}
	shown := make([]string, len(filters))
	for i, f := range filters {
		if cut {
			f = f[len(prefix):]
		}
		shown[i] = strconv.Quote(f)
	}
	return strings.Join(shown, ", ")
}

// logUpdate warns what an update changed and, for a changed filter, where
// the consumer stands: JetStream keeps its position, so what it skips is
// decided by that position.
func logUpdate(log *slog.Logger, stream string, def levelConsumer, s staleConsumer, after *jetstream.ConsumerInfo) {
	changes := make([]string, len(s.diffs))
	filterChanged := false
	for i, d := range s.diffs {
		changes[i] = d.String()
		filterChanged = filterChanged || d.Setting == "filter"
	}
	attrs := []any{slog.String("stream", stream), slog.String("consumer", def.cfg.Durable),
		slog.String("changes", strings.Join(changes, "; "))}
	if !filterChanged {
		log.Warn("subscription definition updated", attrs...)
		return
	}
	before := s.info
	attrs = append(attrs,
		slog.Uint64("delivered_stream_seq", before.Delivered.Stream),
		slog.Uint64("ack_floor_stream_seq", before.AckFloor.Stream),
		slog.Int("ack_pending", before.NumAckPending))
	if after != nil {
		attrs = append(attrs, slog.Uint64("pending_after", after.NumPending))
	}
	log.Warn(fmt.Sprintf("subscription filter changed; JetStream keeps the consumer's position (delivered up to stream "+
		"sequence %d, or further past messages that matched no filter): messages before it that match only the new "+
		"filter are never delivered, messages after it that match only the old filter no longer are, and messages "+
		"published while a filter was changed stay skipped even if it is changed back", before.Delivered.Stream), attrs...)
}
