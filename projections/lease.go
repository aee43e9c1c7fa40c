package projections

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// newOwnerID names a runner or admin in leases and status records: host,
// process and a unique part (a nuid's first characters are the same for
// every nuid of a process, so the whole one is used).
func newOwnerID() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(os.Getpid()) + ":" + nuid.Next()
}

// lease is the exclusive right to run one generation's consumer: a key in
// the meta bucket with a server-side TTL, renewed with compare-and-set. Two
// writers on one consumer would split its events and break per-aggregate
// order, so nothing consumes without it.
type lease struct {
	meta  *metaStore
	key   string
	owner string
	ttl   time.Duration
	rev   uint64
	held  time.Time // last successful acquire or renewal
}

// leaseWait tells the caller of acquireLease how the wait goes: standby
// is called once when someone else holds the lease, retrying on each
// attempt that failed for another reason (either may be nil).
type leaseWait struct {
	standby  func(holder string)
	retrying func(err error)
}

// acquireLease blocks until the lease is ours or ctx ends. Every call it
// makes is bounded by the meta store's WriteTimeout and returns when ctx
// ends, even on a connection that is stuck.
func acquireLease(ctx context.Context, meta *metaStore, key, owner string, ttl time.Duration, wait leaseWait) (*lease, error) {
	l := &lease{meta: meta, key: key, owner: owner, ttl: ttl}
	timeout := meta.cfg.WriteTimeout
	var w jetstream.KeyWatcher
	defer func() {
		if w != nil {
			stopWatcher(ctx, w, timeout)
		}
	}()
	told := false
	for {
		rev, err := bounded(ctx, timeout, func(ctx context.Context) (uint64, error) {
			return meta.kv.Create(ctx, key, []byte(owner), jetstream.KeyTTL(ttl))
		}, func(rev uint64) {
			// Created after the wait gave up: give it back rather than
			// hold everyone else off until it expires.
			(&lease{meta: meta, key: key, owner: owner, ttl: ttl, rev: rev}).release(context.Background())
		})
		if err == nil {
			l.rev, l.held = rev, time.Now()
			return l, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			meta.cfg.logger.Warn("lease not acquired, retrying", "lease", key, "error", err)
			if wait.retrying != nil {
				wait.retrying(fmt.Errorf("projections: lease %s not acquired: %w", key, err))
			}
		} else {
			holder := "?"
			if e, gerr := meta.get(ctx, key); gerr == nil {
				holder = string(e.Value())
				if holder == owner {
					// Ours from before (a renewal stored whose reply was
					// lost, a release that missed): take it back rather
					// than wait behind ourselves until it expires.
					l.rev = e.Revision()
					if rerr := l.renew(ctx); rerr == nil {
						return l, nil
					}
				}
			}
			if !told && wait.standby != nil {
				wait.standby(holder)
				told = true
			}
		}
		if w == nil && ctx.Err() == nil {
			// A release or expiry shows up as a delete on the watch, so a
			// standby takes over at once instead of at its next poll.
			w, _ = watchBounded(ctx, timeout, func(ctx context.Context) (jetstream.KeyWatcher, error) {
				return meta.kv.Watch(ctx, key, jetstream.UpdatesOnly())
			})
		}
		var updates <-chan jetstream.KeyValueEntry
		if w != nil {
			updates = w.Updates()
		}
		t := time.NewTimer(max(ttl/4, 250*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-updates:
		case <-t.C:
		}
		t.Stop()
	}
}

// renew extends the lease; ErrLeaseLost when someone else has it now.
func (l *lease) renew(ctx context.Context) error {
	msg := nats.NewMsg(l.meta.kvSubject(l.key))
	msg.Data = []byte(l.owner)
	ack, err := bounded(ctx, l.meta.cfg.WriteTimeout, func(ctx context.Context) (*jetstream.PubAck, error) {
		return l.meta.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(l.rev), jetstream.WithMsgTTL(l.ttl))
	}, nil)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return fmt.Errorf("%w: %s is held by someone else now", ErrLeaseLost, l.key)
		}
		return fmt.Errorf("projections: renew lease %s: %w", l.key, err)
	}
	l.rev, l.held = ack.Sequence, time.Now()
	return nil
}

// keep renews the lease until ctx ends; it calls lost (once) when the
// lease is gone or could not be renewed before it would expire.
func (l *lease) keep(ctx context.Context, lost func(error)) {
	every := max(l.ttl/3, 200*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		err := l.renew(rctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrLeaseLost):
			lost(err)
			return
		case time.Since(l.held) > l.ttl-every:
			// The server may expire it any moment: stop writing first.
			lost(fmt.Errorf("%w: not renewed for %s: %w", ErrLeaseLost, time.Since(l.held).Round(time.Millisecond), err))
			return
		default:
			l.meta.cfg.logger.Warn("lease renewal failed, retrying", "lease", l.key, "error", err)
		}
	}
}

// release gives the lease up so a standby takes over at once.
func (l *lease) release(ctx context.Context) {
	timeout := l.meta.cfg.WriteTimeout
	del := func(rev uint64) error {
		return boundedDo(ctx, timeout, func(ctx context.Context) error { return l.meta.kv.Delete(ctx, l.key, jetstream.LastRevision(rev)) })
	}
	err := del(l.rev)
	if err != nil && ctx.Err() == nil {
		// Our revision may be stale (a renewal stored whose reply was
		// lost): delete what is there if it is still ours.
		if e, gerr := l.meta.get(ctx, l.key); gerr == nil && string(e.Value()) == l.owner {
			err = del(e.Revision())
		}
	}
	if err != nil {
		l.meta.cfg.logger.Debug("lease not released (it expires by itself)", "lease", l.key, "error", err)
	}
}

func (m *metaStore) kvSubject(key string) string { return "$KV." + m.cfg.MetaBucket + "." + key }
