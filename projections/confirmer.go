package projections

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// errAbandoned ends a session whose in-flight writes were given up on a
// hard stop; the events stay unacked and are redelivered on the next start.
var errAbandoned = errors.New("projections: in-flight writes abandoned")

// confirmer waits for each batch's writes, in order, then acks its events
// and writes the checkpoint. After a failed write it acks nothing more: the
// session ends and the next one starts again from the ack floor.
type confirmer struct {
	pl        *pipeline
	in        chan *batch
	failed    chan error
	done      chan struct{}
	abandoned chan struct{} // closed: ack nothing more (the lease is gone)
	inflight  atomic.Int64
}

func newConfirmer(pl *pipeline) *confirmer {
	return &confirmer{
		pl:        pl,
		in:        make(chan *batch, max(2, pl.cfg.MaxInflight/pl.cfg.MaxBatch)),
		failed:    make(chan error, 1),
		done:      make(chan struct{}),
		abandoned: make(chan struct{}),
	}
}

// abandon stops every ack from now on: another process owns the consumer,
// and it will get these events again.
func (c *confirmer) abandon() { close(c.abandoned) }

func (c *confirmer) run() {
	defer close(c.done)
	broken := false
	for b := range c.in {
		if !broken {
			if err := c.confirm(b); err != nil {
				broken = true
				c.failed <- err
			}
		}
		c.inflight.Add(-1)
	}
}

// idle reports whether no batch is waiting for confirmation.
func (c *confirmer) idle() bool { return c.inflight.Load() == 0 }

// finish stops taking batches, waits for those in flight and returns err,
// or the confirmer's own failure when err is nil.
func (c *confirmer) finish(err error) error {
	close(c.in)
	<-c.done
	if err == nil {
		select {
		case err = <-c.failed:
		default:
		}
	}
	return err
}

func (c *confirmer) confirm(b *batch) error {
	pl := c.pl
	for _, f := range b.writes {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("projections: write to %s not confirmed: %w", pl.gen.Bucket, err)
		case <-pl.hard:
			return errAbandoned
		case <-c.abandoned:
			return errAbandoned
		}
	}
	select {
	case <-c.abandoned:
		return errAbandoned
	default:
	}
	for _, m := range b.msgs {
		// A lost ack only means a redelivery the records already hold.
		_ = m.Ack()
	}
	c.checkpoint(b.last)
	n := uint64(len(b.msgs))
	confirmed := pl.confirmed.Add(n)
	pl.ackedSeq.Store(b.last)
	lag := pl.pending.Load() + pl.delivered.Load() - confirmed
	pl.track.applied(len(b.msgs), b.last, lag)
	m := pl.cfg.metrics
	m.EventsApplied(pl.p.Name, len(b.msgs)-b.skipped)
	if b.skipped > 0 {
		m.EventsSkipped(pl.p.Name, "already_applied", b.skipped)
	}
	m.BatchConfirmed(pl.p.Name, len(b.writes), time.Since(b.sent))
	m.Lag(pl.p.Name, lag)
	return nil
}

// checkpointRecord is the value of CheckpointKey.
type checkpointRecord struct {
	Sequence uint64 `json:"sequence"`
}

// checkpoint writes the checkpoint record after the batch's records are
// stored, so a watcher sees it after every record it covers. It is not
// waited for: a lost one is superseded by the next.
func (c *confirmer) checkpoint(seq uint64) {
	pl := c.pl
	data, _ := json.Marshal(checkpointRecord{Sequence: seq})
	msg := &nats.Msg{Subject: pl.kvPre + CheckpointKey, Data: data}
	if _, err := pl.publishAsync(msg); err != nil {
		pl.log.Debug("checkpoint not written", "sequence", seq, "error", err)
	}
}
