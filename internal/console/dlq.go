package console

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jetflow/jetflow/consumers"
)

// The dead-letter pages do what `jetflow dlq list|show|replay|discard`
// do, through the same consumers.DLQ on the same stream.

const (
	// dlqPageSize is how many matching dead letters a page lists, and
	// dlqMaxScan how many it reads at most to find them.
	dlqPageSize = 100
	dlqMaxScan  = 1000
)

type dlqData struct {
	Enabled bool
	Stream  string
	Filter  dlqFilter
	Letters []consumers.DeadLetter
	// Next is the query of the next page ("" when this is the last).
	Next    string
	Scanned int
	Err     string
}

func (c *Console) dlqPage(w http.ResponseWriter, r *http.Request) {
	f, err := parseDLQFilter(r.URL.Query())
	d := dlqData{Enabled: c.dlq != nil, Stream: c.deps.DLQStream, Filter: f}
	if err != nil {
		d.Err = err.Error()
		c.render(w, r, http.StatusBadRequest, "dlq", "Dead letters", "dlq", d)
		return
	}
	if c.dlq == nil {
		c.render(w, r, http.StatusOK, "dlq", "Dead letters", "dlq", d)
		return
	}
	ctx, cancel := bounded(r)
	defer cancel()
	now := time.Now()
	q := consumers.ListOptions{Topic: f.Topic, Subscription: f.Subscription, Limit: dlqPageSize, After: f.After}
	for d.Scanned < dlqMaxScan {
		page, err := c.dlq.List(ctx, q)
		if err != nil {
			d.Err = err.Error()
			break
		}
		for _, dl := range page {
			d.Scanned++
			q.After = dl.ID
			if !f.match(dl, now) {
				continue
			}
			d.Letters = append(d.Letters, dl)
			if len(d.Letters) == dlqPageSize {
				break
			}
		}
		if len(d.Letters) == dlqPageSize || len(page) < q.Limit {
			if len(d.Letters) == dlqPageSize {
				d.Next = f.query(q.After)
			}
			break
		}
		if d.Scanned >= dlqMaxScan {
			d.Next = f.query(q.After) // more to read: the next page goes on from here
		}
	}
	c.render(w, r, http.StatusOK, "dlq", "Dead letters", "dlq", d)
}

type deadLetterData struct {
	consumers.DeadLetter
	Headers [][2]string
	Payload string
	// Events are the original's events when it is an event-store commit
	// (a projection's or an event subscription's dead letter).
	Events []eventView
}

func (c *Console) deadLetterPage(w http.ResponseWriter, r *http.Request) {
	id, err := parseDeadLetterID(r.URL.Query())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if c.dlq == nil {
		c.fail(w, r, http.StatusNotFound, "The dead-letter queue is off (dlq.enabled).")
		return
	}
	ctx, cancel := bounded(r)
	defer cancel()
	dl, err := c.dlq.Get(ctx, id)
	if err != nil {
		c.fail(w, r, dlqStatus(err), err.Error())
		return
	}
	d := deadLetterData{DeadLetter: dl}
	if o := dl.Original; o != nil {
		for _, k := range slices.Sorted(maps.Keys(o.Header)) {
			d.Headers = append(d.Headers, [2]string{k, strings.Join(o.Header[k], ", ")})
		}
		d.Payload = prettyJSON(o.Data)
		for _, ev := range o.Events {
			d.Events = append(d.Events, viewOf(ev))
		}
	}
	c.render(w, r, http.StatusOK, "deadletter", "Dead letter "+itoa(int(id)), "dlq", d)
}

func dlqStatus(err error) int {
	switch {
	case errors.Is(err, consumers.ErrDeadLetterNotFound), errors.Is(err, consumers.ErrNoDLQ):
		return http.StatusNotFound
	case errors.Is(err, consumers.ErrReplayUnsupported), errors.Is(err, consumers.ErrOriginalGone), errors.Is(err, consumers.ErrSubscriptionGone):
		return http.StatusConflict
	}
	return http.StatusBadGateway
}

// replayResult is one dead letter's replay, done or (dry run) foreseen.
type replayResult struct {
	consumers.Replayed
	Err string
}

type replayData struct {
	DryRun  bool
	Results []replayResult
	// Replayable are the ids a dry run found replayable: the real run's
	// form posts them.
	Replayable []uint64
	Replayed   int
}

// dlqReplay replays the selected dead letters, or, as a dry run, says what
// it would do (the list's button is a dry run; its page offers the real
// one for what would replay).
func (c *Console) dlqReplay(w http.ResponseWriter, r *http.Request) {
	f, err := parseReplayForm(r.PostForm)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if c.dlq == nil {
		c.fail(w, r, http.StatusNotFound, "The dead-letter queue is off (dlq.enabled).")
		return
	}
	// Each replay is a few requests; bound the whole selection by its size.
	ctx, cancel := context.WithTimeout(r.Context(), min(requestBound+time.Duration(len(f.IDs))*100*time.Millisecond, 2*time.Minute))
	defer cancel()
	d := replayData{DryRun: f.DryRun}
	for _, id := range f.IDs {
		rep, err := c.dlq.Replay(ctx, id, f.DryRun)
		res := replayResult{Replayed: rep}
		switch {
		case err != nil:
			res.Err = err.Error()
		case f.DryRun:
			d.Replayable = append(d.Replayable, id)
		default:
			d.Replayed++
		}
		if !f.DryRun {
			if err != nil {
				c.audit(r, "dlq replay failed", "dead_letter", id, "error", err)
			} else {
				c.audit(r, "dlq replay", "dead_letter", id, "subject", rep.Subject, "subscription", rep.Subscription, "topic_sequence", rep.Sequence, "duplicate", rep.Duplicate)
			}
		}
		d.Results = append(d.Results, res)
		if ctx.Err() != nil {
			break
		}
	}
	c.render(w, r, http.StatusOK, "replay", "Replay", "dlq", d)
}

func (c *Console) dlqDiscardConfirm(w http.ResponseWriter, r *http.Request) {
	id, err := parseDeadLetterID(r.URL.Query())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	c.render(w, r, http.StatusOK, "discard", "Discard dead letter", "dlq", id)
}

func (c *Console) dlqDiscard(w http.ResponseWriter, r *http.Request) {
	id, err := parseDeadLetterID(r.PostForm)
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if c.dlq == nil {
		c.fail(w, r, http.StatusNotFound, "The dead-letter queue is off (dlq.enabled).")
		return
	}
	ctx, cancel := bounded(r)
	defer cancel()
	c.audit(r, "dlq discard", "dead_letter", id)
	if err := c.dlq.Discard(ctx, id); err != nil {
		c.fail(w, r, dlqStatus(err), err.Error())
		return
	}
	http.Redirect(w, r, basePath+"dlq", http.StatusSeeOther)
}
