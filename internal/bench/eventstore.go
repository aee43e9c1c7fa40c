package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

var benchEventData = json.RawMessage(`{"username":"alice","email":"alice@example.com"}`)

// storeEnv is an event store on the scenario's server over TCP.
type storeEnv struct {
	nc    *nats.Conn
	js    jetstream.JetStream
	store *streams.Store
}

func newStoreEnv(ctx context.Context, env *Env) (*storeEnv, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return nil, err
	}
	cfg := env.streamsConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		nc.Close()
		return nil, err
	}
	store, err := streams.NewStore(js, cfg, streams.WithLogger(env.Logger))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &storeEnv{nc: nc, js: js, store: store}, nil
}

func (s *storeEnv) Close() { s.nc.Close() }

// rawAppend publishes a commit's bytes the way an application using
// JetStream directly would store them: one message on the aggregate's
// subject, a fresh message id each time, the expected sequence checked.
// body is the commit as jetflow encodes it (rawCommit), so the ratio is
// jetflow's own overhead, not the size of what it stores.
func rawAppend(ctx context.Context, js jetstream.JetStream, subject string, after uint64, body []byte) (uint64, error) {
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{
		wire.HeaderMsgID:                      {"raw-" + strconv.FormatUint(rawIDs.Add(1), 10) + "-0000-7000-8000-000000000000"},
		"Nats-Expected-Last-Subject-Sequence": {strconv.FormatUint(after, 10)},
	}}
	ack, err := js.PublishMsg(ctx, msg)
	// On a cluster the leader may answer 10164 while the subject's previous
	// message is still being applied: a store on raw JetStream must send
	// again, as jetflow's does.
	for wait := time.Millisecond; isWrongLastSequenceConstant(err) && wait <= time.Second; wait *= 2 {
		time.Sleep(wait)
		ack, err = js.PublishMsg(ctx, msg)
	}
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

func isWrongLastSequenceConstant(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == 10164
}

var rawIDs atomic.Uint64

// rawCommit is the body of a commit of n bench events as jetflow encodes
// it, for the raw sides to publish.
func rawCommit(n int) []byte {
	events := make([]streams.Event, n)
	for i := range events {
		events[i] = streams.Event{Type: "bench.happened", Data: benchEventData}
	}
	prepared, err := streams.PrepareAppend(streams.AppendDefaults{Now: time.Now(), Source: streams.DefaultSource}, "rawbench", "aggregate-0000001", streams.Position{}, events)
	if err == nil {
		var body []byte
		if body, err = streams.EncodeCommit(0, prepared); err == nil {
			return body
		}
	}
	panic(fmt.Sprintf("bench: raw commit of %d events: %v", n, err)) // fixed input: cannot happen
}

// timed runs op from `writers` goroutines until d passes and returns ops/s.
func timed(ctx context.Context, d time.Duration, writers int, op func(ctx context.Context, writer int, i int) error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if err := op(ctx, w, i); err != nil {
					if ctx.Err() == nil {
						once.Do(func() { firstErr = err; cancel() })
					}
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// alternate measures raw and jetflow twice each, interleaved, and returns
// the mean of each, so drift on a busy machine hits both alike.
// Each round gets its own number so it can write to aggregates of its own:
// an append cut off by the round's deadline may still have been stored.
func alternate(ctx context.Context, d time.Duration, raw, jet func(ctx context.Context, d time.Duration, round int) (float64, error)) (float64, float64, error) {
	var rawSum, jetSum float64
	for round := range 2 {
		r, err := raw(ctx, d/2, round)
		if err != nil {
			return 0, 0, fmt.Errorf("raw: %w", err)
		}
		j, err := jet(ctx, d/2, round)
		if err != nil {
			return 0, 0, fmt.Errorf("jetflow: %w", err)
		}
		rawSum, jetSum = rawSum+r, jetSum+j
	}
	return rawSum / 2, jetSum / 2, nil
}

func appendScenario() Scenario {
	return singleEventAppends("append", "one writer, one event per append with the expected sequence checked",
		1, 1, "js.Publish+expected seq")
}

func appendConcurrentScenario() Scenario {
	return singleEventAppends("append-concurrent", "64 writers over 10,000 aggregates, one event per append",
		64, 10000, "64 raw writers")
}

// singleEventAppends measures writers appending one event at a time over
// aggregates, against raw publishes of the same messages with the same
// expectation header.
func singleEventAppends(name, description string, writers, aggregates int, rawName string) Scenario {
	return Scenario{
		Name:        name,
		Replicated:  true,
		Description: description,
		Run: func(ctx context.Context, env *Env) (Result, error) {
			se, err := newStoreEnv(ctx, env)
			if err != nil {
				return Result{}, err
			}
			defer se.Close()
			// Writer w owns the aggregates [w*n/writers, (w+1)*n/writers):
			// no conflicts, so the figure is the store's cost, not retries.
			body := rawCommit(1)
			rawSeqs := make([]uint64, aggregates)
			positions := make([]streams.Position, aggregates)
			pick := func(w, i int) int {
				lo, hi := w*aggregates/writers, (w+1)*aggregates/writers
				return lo + i%(hi-lo)
			}
			raw := func(ctx context.Context, d time.Duration, round int) (float64, error) {
				clear(rawSeqs)
				prefix := fmt.Sprintf("events.rawbench.r%d-", round)
				return timed(ctx, d, writers, func(ctx context.Context, w, i int) error {
					a := pick(w, i)
					seq, err := rawAppend(ctx, se.js, prefix+strconv.Itoa(a), rawSeqs[a], body)
					if err == nil {
						rawSeqs[a] = seq
					}
					return err
				})
			}
			jet := func(ctx context.Context, d time.Duration, round int) (float64, error) {
				clear(positions)
				prefix := fmt.Sprintf("r%d-", round)
				return timed(ctx, d, writers, func(ctx context.Context, w, i int) error {
					a := pick(w, i)
					res, err := se.store.Append(ctx, "bench", prefix+strconv.Itoa(a), positions[a], streams.Event{Type: "bench.happened", Data: benchEventData})
					if err == nil {
						positions[a] = res.Position()
					}
					return err
				})
			}
			rawRate, rate, err := alternate(ctx, env.Duration, raw, jet)
			if err != nil {
				return Result{}, err
			}
			return Result{Unit: "events/s", Rate: rate, RawName: rawName, RawRate: rawRate, Ratio: ratio(rate, rawRate), Target: "≥ 0.95"}, nil
		},
	}
}

func appendBatchScenario() Scenario {
	return batchAppends("append-batch", "10 events per append (one commit), one writer", 1, "raw publish of the same 10-event commit")
}

func appendBatchConcurrentScenario() Scenario {
	return batchAppends("append-batch-concurrent", "10 events per append (one commit), 64 writers on distinct aggregates", 64, "64 raw writers of the same commits")
}

// batchAppends measures writers appending commits of 10 events, each to
// aggregates of its own, against raw publishes of the same commits' bytes
// with the same expectation.
func batchAppends(name, description string, writers int, rawName string) Scenario {
	const perAppend = 10
	return Scenario{
		Name:        name,
		Replicated:  true,
		Description: description,
		Run: func(ctx context.Context, env *Env) (Result, error) {
			se, err := newStoreEnv(ctx, env)
			if err != nil {
				return Result{}, err
			}
			defer se.Close()
			batch := make([]streams.Event, perAppend)
			for i := range batch {
				batch[i] = streams.Event{Type: "bench.happened", Data: benchEventData}
			}
			body := rawCommit(perAppend)
			// One aggregate per writer, appended to over and over: a command
			// of several events on an aggregate that exists.
			raw := func(ctx context.Context, d time.Duration, round int) (float64, error) {
				seqs := make([]uint64, writers)
				return timed(ctx, d, writers, func(ctx context.Context, w, _ int) error {
					seq, err := rawAppend(ctx, se.js, fmt.Sprintf("events.rawbench.b%d-%d", round, w), seqs[w], body)
					if err == nil {
						seqs[w] = seq
					}
					return err
				})
			}
			jet := func(ctx context.Context, d time.Duration, round int) (float64, error) {
				pos := make([]streams.Position, writers)
				return timed(ctx, d, writers, func(ctx context.Context, w, _ int) error {
					res, err := se.store.Append(ctx, "bench", fmt.Sprintf("b%d-%d", round, w), pos[w], batch...)
					if err == nil {
						pos[w] = res.Position()
					}
					return err
				})
			}
			rawRate, rate, err := alternate(ctx, env.Duration, raw, jet)
			if err != nil {
				return Result{}, err
			}
			return Result{
				Unit: "events/s", Rate: rate * perAppend, RawName: rawName, RawRate: rawRate * perAppend,
				Ratio:   ratio(rate, rawRate),
				Metrics: []Metric{{Name: "appends/s", Value: rate, Unit: "appends/s"}},
			}, nil
		},
	}
}

// seedAggregate writes n events to one aggregate in commits of perCommit.
func seedAggregate(ctx context.Context, se *storeEnv, typ, id string, n, perCommit int) error {
	var pos streams.Position
	for pos.Version < uint64(n) {
		size := min(perCommit, n-int(pos.Version))
		batch := make([]streams.Event, size)
		for i := range batch {
			batch[i] = streams.Event{Type: "bench.happened", Data: benchEventData}
		}
		res, err := se.store.Append(ctx, typ, id, pos, batch...)
		if err != nil {
			return err
		}
		pos = res.Position()
	}
	return nil
}
