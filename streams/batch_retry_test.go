package streams_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// An append whose context is already cancelled must send nothing (with
// atomic batches, a batch half sent held one of the stream's 50 batch
// slots until the server's batch timeout, and other appends were refused
// as busy; a commit is one message, and a cancelled one is not sent).
func TestCancelledBatchLeavesNoServerBatchOpen(t *testing.T) {
	t.Parallel()
	srv := runServerWithConf(t, "jetstream { limits { batch { max_inflight_per_stream: 1 } } }\n")
	f := newFixture(t, srv.URL, 1)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		_, err := f.store.Append(cancelled, "cart", "gone", streams.Position{},
			ev("cart.created", map[string]int{}), ev("cart.item_added", map[string]int{"sku": 1}))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("append under a cancelled context: err = %v, want context.Canceled", err)
		}
	}
	if _, err := f.store.Append(ctxT(t), "cart", "c1", streams.Position{},
		ev("cart.created", map[string]int{}), ev("cart.item_added", map[string]int{"sku": 1})); err != nil {
		t.Fatalf("append after cancelled appends (nothing else writes the stream): %v", err)
	}
}

// A retry of an append that is still being stored (its first attempt's
// ack is late, as under load on R3) sends the same ids after the same
// position. The events end up stored exactly once right after that
// position, so both attempts report success, also when the retry meets the
// server's 10158 "duplicate message id is in process" on R3.
func TestRetryWhileFirstAttemptInProcessOnR3(t *testing.T) {
	natstest.SkipIfShort(t)
	t.Parallel()
	f := newFixture(t, natstest.RunCluster(t).URL, 3)
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d-events", n), func(t *testing.T) { retryWhileInProcess(t, f, n) })
	}
}

func retryWhileInProcess(t *testing.T, f *fixture, n int) {
	ctx := ctxT(t)
	{
		for i := range 20 {
			id := fmt.Sprintf("n%d-%d", n, i)
			events := make([]streams.Event, n)
			for j := range events {
				events[j] = ev("doc.edited", map[string]int{"j": j})
				events[j].ID = streams.NewEventID()
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			results := make([]streams.AppendResult, 2)
			for a := range 2 {
				wg.Go(func() {
					results[a], errs[a] = f.store.Append(ctx, "doc", id, streams.Position{}, events...)
				})
			}
			wg.Wait()
			stored := loadAll(t, f.store, "doc", id, 0)
			if len(stored) != n {
				t.Fatalf("%s: %d events stored, want %d", id, len(stored), n)
			}
			for a, err := range errs {
				if err != nil {
					t.Fatalf("%d-event append %s, attempt %d: the events are stored once right after its position (sequence %d), yet: %v",
						n, id, a, stored[n-1].Sequence, err)
				}
				if results[a].LastSequence != stored[n-1].Sequence {
					t.Fatalf("%s attempt %d: result %+v, stored last %d", id, a, results[a], stored[n-1].Sequence)
				}
			}
		}
	}
}
