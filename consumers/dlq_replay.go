package consumers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/wire"
)

// Replayed reports what a replay did (or, in a dry run, would do) with one
// dead letter.
type Replayed struct {
	ID           uint64 `json:"id"`
	Topic        string `json:"topic,omitempty"`
	Subscription string `json:"subscription"`
	Subject      string `json:"subject,omitempty"`
	// Sequence is the republished message's sequence in the topic stream.
	Sequence uint64 `json:"sequence,omitempty"`
	// Duplicate is true when the topic had already stored this replay (a
	// replay repeated within the duplicate window publishes nothing new).
	Duplicate bool `json:"duplicate,omitempty"`
	DryRun    bool `json:"dry_run,omitempty"`
	// Skipped says why the dead letter was not replayed ("" when it was).
	Skipped string `json:"skipped,omitempty"`
}

// Replay republishes a dead letter's original to its topic subject, for its
// subscription only (Jetflow-Replay-For; the topic's other subscriptions
// skip it), with Jetflow-Replayed-From set to the dead letter's id, and
// then removes the dead letter. If the replayed message fails again it is
// dead-lettered again, under a new id.
//
// The replay's message id is derived from the dead letter's id, so a replay
// repeated within the topic's duplicate window is stored once. TTL headers
// are dropped: replaying is an operator's explicit decision to process the
// message. A dry run checks everything and changes nothing.
func (d *DLQ) Replay(ctx context.Context, id uint64, dryRun bool) (Replayed, error) {
	dl, err := d.Get(ctx, id)
	if err != nil {
		return Replayed{ID: id}, err
	}
	return d.replay(ctx, dl, dryRun)
}

// ReplayAll replays every dead letter matching q (q.Limit bounds how many
// are considered). Dead letters that cannot be replayed (not a topic,
// original gone) are reported as skipped; an error stops the run and is
// returned with what was done so far.
func (d *DLQ) ReplayAll(ctx context.Context, q ListOptions, dryRun bool) ([]Replayed, error) {
	list, err := d.List(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]Replayed, 0, len(list))
	for _, dl := range list {
		r, err := d.replay(ctx, dl, dryRun)
		switch {
		case errors.Is(err, ErrReplayUnsupported) || errors.Is(err, ErrOriginalGone) || errors.Is(err, ErrSubscriptionGone):
			r.Skipped = err.Error()
		case err != nil:
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (d *DLQ) replay(ctx context.Context, dl DeadLetter, dryRun bool) (Replayed, error) {
	r := Replayed{ID: dl.ID, Topic: dl.Topic, Subscription: dl.Subscription, DryRun: dryRun}
	if dl.Topic == "" {
		return r, fmt.Errorf("%w: dead letter %d comes from stream %s; reset or redeliver through its consumer instead",
			ErrReplayUnsupported, dl.ID, dl.Stream)
	}
	if dl.Original == nil {
		if dl.readErr != nil {
			return r, fmt.Errorf("consumers: dead letter %d: %s: %w", dl.ID, dl.OriginalMissing, dl.readErr)
		}
		return r, fmt.Errorf("%w: dead letter %d: %s", ErrOriginalGone, dl.ID, dl.OriginalMissing)
	}
	// The replay goes out with the operator's rights: only ever back under
	// the topic's own subjects, whatever the stream named like it holds.
	if under := TopicSubjectPrefix + "." + dl.Topic + "."; !strings.HasPrefix(dl.Original.Subject, under) {
		return r, fmt.Errorf("%w: dead letter %d: its original's subject %q is not under %s, the subjects of topic %s",
			ErrReplayUnsupported, dl.ID, dl.Original.Subject, TopicSubjects(dl.Topic), dl.Topic)
	}
	if err := d.checkConsumer(ctx, dl); err != nil {
		return r, err
	}
	r.Subject = dl.Original.Subject
	msg := replayMsg(d.cfg.Stream, dl)
	if dryRun {
		return r, nil
	}
	ack, err := d.js.PublishMsg(ctx, msg)
	if err != nil {
		return r, fmt.Errorf("consumers: replay dead letter %d to %s: %w", dl.ID, r.Subject, err)
	}
	r.Sequence, r.Duplicate = ack.Sequence, ack.Duplicate
	if err := d.Discard(ctx, dl.ID); err != nil && !errors.Is(err, ErrDeadLetterNotFound) {
		return r, fmt.Errorf("consumers: replayed dead letter %d (topic sequence %d) but could not remove it: %w", dl.ID, r.Sequence, err)
	}
	return r, nil
}

// checkConsumer refuses a replay nobody would handle: it is marked for
// the dead letter's subscription, and every other one skips it.
func (d *DLQ) checkConsumer(ctx context.Context, dl DeadLetter) error {
	st, err := d.js.Stream(ctx, dl.Stream)
	if err == nil {
		_, err = st.Consumer(ctx, dl.Consumer)
	}
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("%w: dead letter %d: %s has no consumer %s any more (subscription %s stopped for good?); its replay would be skipped by every subscription",
			ErrSubscriptionGone, dl.ID, dl.Stream, dl.Consumer, dl.Subscription)
	case err != nil:
		return fmt.Errorf("consumers: dead letter %d: look up consumer %s: %w", dl.ID, dl.Consumer, err)
	}
	return nil
}

// replayMsg copies the original with the headers the server or an earlier
// replay set removed, and marks it as a replay.
func replayMsg(dlqStream string, dl DeadLetter) *nats.Msg {
	h := nats.Header{}
	for k, v := range dl.Original.Header {
		switch {
		case strings.HasPrefix(k, "Nats-"): // id, TTL, expectations, batch markers
		case k == wire.HeaderExpiresAt, k == wire.HeaderReplayFor, k == wire.HeaderReplayedFrom:
		default:
			h[k] = v
		}
	}
	id := strconv.FormatUint(dl.ID, 10)
	h.Set(wire.HeaderReplayedFrom, id)
	h.Set(wire.HeaderReplayFor, dl.Subscription)
	h.Set(wire.HeaderMsgID, "jetflow-replay-"+dlqStream+"-"+id)
	return &nats.Msg{Subject: dl.Original.Subject, Header: h, Data: dl.Original.Data}
}
