package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// removeRetired deletes the buckets, consumers and status of generations a
// rebuild switched away from, once no runner holds their lease. The
// rebuild calls it after the switch, and so does the runner of the active
// generation when it starts on it: a rebuild cut off while cleaning up
// leaves nothing behind for long.
func (m *metaStore) removeRetired(ctx context.Context, name string) error {
	meta, _, err := m.load(ctx, name)
	if err != nil {
		return err
	}
	for _, g := range meta.Retired {
		if err := m.waitLeaseFree(ctx, name, g.Number); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("projections: removing generation %d of %s: %w", g.Number, name, ctx.Err())
			}
			m.cfg.logger.Warn("retired generation still running; left in place", "projection", name, "generation", g.Number, "error", err)
			continue
		}
		if err := m.js.DeleteConsumer(ctx, m.cfg.Streams.EventStream, g.Consumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("projections: remove consumer %s: %w", g.Consumer, err)
		}
		if err := m.js.DeleteKeyValue(ctx, g.Bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("projections: remove bucket %s: %w", g.Bucket, err)
		}
		_ = m.kv.Purge(ctx, statusKey(name, g.Number))
		if _, err := m.update(ctx, name, func(meta *Meta) error {
			meta.Retired = slices.DeleteFunc(meta.Retired, func(r Generation) bool { return r.Number == g.Number })
			return nil
		}); err != nil {
			return err
		}
		m.cfg.logger.Info("removed retired generation", "projection", name, "generation", g.Number, "bucket", g.Bucket)
	}
	return nil
}

// waitLeaseFree waits (two lease TTLs at most) until nobody runs generation gen.
func (m *metaStore) waitLeaseFree(ctx context.Context, name string, gen int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*m.cfg.LeaseTTL)
	defer cancel()
	for {
		_, err := m.get(ctx, leaseKey(name, gen))
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("lease of generation %d still held: %w", gen, ctx.Err())
		}
		sleep(ctx, 100*time.Millisecond)
	}
}
