package streams_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// Multi-event commits on a 3-node cluster: concurrent writers of 10-event
// commits, a stale commit refused whole, a stream leader step-down in the
// middle, then loads through each node's client port that find every
// aggregate's commits whole and in version order.
func TestMultiEventCommitsOnR3(t *testing.T) {
	natstest.SkipIfShort(t)
	t.Parallel()
	cluster := natstest.RunCluster(t)
	f := newFixture(t, cluster.URL, 3)
	ctx := ctxT(t)

	const aggregates, perCommit = 8, 10
	commit := func(round int) []streams.Event {
		evs := make([]streams.Event, perCommit)
		for i := range evs {
			evs[i] = ev("ledger.posted", map[string]int{"round": round, "line": i})
		}
		return evs
	}
	positions := make([]streams.Position, aggregates)
	appendRound := func(round int) {
		var wg sync.WaitGroup
		errs := make([]error, aggregates)
		for a := range aggregates {
			wg.Go(func() {
				res, err := f.store.Append(ctx, "ledger", fmt.Sprintf("l%d", a), positions[a], commit(round)...)
				if err == nil {
					positions[a] = res.Position()
				}
				errs[a] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}

	appendRound(0)
	stale := positions[0]
	appendRound(1)
	if _, err := f.store.Append(ctx, "ledger", "l0", stale, commit(99)...); !errors.Is(err, streams.ErrConcurrencyConflict) {
		t.Fatalf("10-event commit after a stale position: err = %v, want a concurrency conflict", err)
	}

	stepDownStreamLeader(t, f.js, f.cfg.EventStream)
	appendRound(2)

	for i, s := range cluster.Servers {
		nc := natstest.Connect(t, s.ClientURL())
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		store, err := streams.NewStore(js, f.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for a := range aggregates {
			id := fmt.Sprintf("l%d", a)
			evs := loadAll(t, store, "ledger", id, 0)
			if len(evs) != 3*perCommit {
				t.Fatalf("node %d, %s: %d events, want %d (the stale commit must add none)", i+1, id, len(evs), 3*perCommit)
			}
			for v, e := range evs {
				round := v / perCommit
				first := evs[round*perCommit]
				if e.Version != uint64(v+1) || e.Sequence != first.Sequence {
					t.Fatalf("node %d, %s event %d: version %d sequence %d, want version %d in the commit at sequence %d",
						i+1, id, v, e.Version, e.Sequence, v+1, first.Sequence)
				}
				if want := fmt.Sprintf(`{"line":%d,"round":%d}`, v%perCommit, round); string(e.Data) != want {
					t.Fatalf("node %d, %s event %d: data %s, want %s", i+1, id, v, e.Data, want)
				}
			}
		}
	}
}

// stepDownStreamLeader asks the stream's leader to step down and waits
// until another node leads it.
func stepDownStreamLeader(t *testing.T, js jetstream.JetStream, stream string) {
	t.Helper()
	ctx := ctxT(t)
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream %s is not on 3 nodes: %+v", stream, info.Cluster)
	}
	before := info.Cluster.Leader
	if _, err := js.Conn().Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil, 10*time.Second); err != nil {
		t.Fatalf("step down the leader of %s: %v", stream, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		info, err := s.Info(ctx)
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" && info.Cluster.Leader != before {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("stream %s: no new leader after %s stepped down", stream, before)
}
