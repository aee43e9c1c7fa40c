package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

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
	nc, err := env.Connect()
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	cfg := streams.DefaultConfig()
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

// rawAppend publishes one message the way an application using JetStream
// directly would write the same event: the same subject shape and headers
// (a fresh message id each time, the expected sequence checked), so the
// ratio is jetflow's own overhead, not the size of the envelope.
func rawAppend(ctx context.Context, js jetstream.JetStream, subject string, after uint64) (uint64, error) {
	msg := &nats.Msg{Subject: subject, Data: benchEventData, Header: rawEnvelope(subject, after+1)}
	msg.Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(after, 10))
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

var rawIDs atomic.Uint64

func rawEnvelope(subject string, version uint64) nats.Header {
	return nats.Header{
		wire.HeaderMsgID:         {"raw-" + strconv.FormatUint(rawIDs.Add(1), 10) + "-0000-7000-8000-000000000000"},
		wire.HeaderEventType:     {"bench.happened"},
		wire.HeaderAggregateType: {"rawbench"},
		wire.HeaderAggregateID:   {subject[len("events.rawbench."):]},
		wire.HeaderVersion:       {strconv.FormatUint(version, 10)},
		wire.HeaderSchema:        {"1"},
		wire.HeaderOccurredAt:    {time.Now().UTC().Format(time.RFC3339Nano)},
		wire.HeaderSource:        {streams.DefaultSource},
	}
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
		Description: description,
		Run: func(ctx context.Context, env *Env) (Result, error) {
			se, err := newStoreEnv(ctx, env)
			if err != nil {
				return Result{}, err
			}
			defer se.Close()
			// Writer w owns the aggregates [w*n/writers, (w+1)*n/writers):
			// no conflicts, so the figure is the store's cost, not retries.
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
					seq, err := rawAppend(ctx, se.js, prefix+strconv.Itoa(a), rawSeqs[a])
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
			return Result{Unit: "events/s", Rate: rate, RawName: rawName, RawRate: rawRate, Ratio: ratio(rate, rawRate), Target: "≥ 0.90"}, nil
		},
	}
}

func appendBatchScenario() Scenario {
	const perAppend = 10
	return Scenario{
		Name:        "append-batch",
		Description: "10 events per atomic append, one writer",
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
			raw := func(ctx context.Context, d time.Duration, round int) (float64, error) {
				var rawSeq uint64
				subject := fmt.Sprintf("events.rawbench.b%d", round)
				return timed(ctx, d, 1, func(ctx context.Context, _, _ int) error {
					msgs := make([]*nats.Msg, perAppend)
					for i := range msgs {
						msgs[i] = &nats.Msg{Subject: subject, Data: benchEventData, Header: rawEnvelope(subject, uint64(i+1))}
					}
					msgs[0].Header.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(rawSeq, 10))
					ack, err := jetstreamext.PublishMsgBatch(ctx, se.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
					if err == nil {
						rawSeq = ack.Sequence
					}
					return err
				})
			}
			jet := func(ctx context.Context, d time.Duration, round int) (float64, error) {
				pos, id := streams.Position{}, fmt.Sprintf("b%d", round)
				return timed(ctx, d, 1, func(ctx context.Context, _, _ int) error {
					res, err := se.store.Append(ctx, "bench", id, pos, batch...)
					if err == nil {
						pos = res.Position()
					}
					return err
				})
			}
			rawRate, rate, err := alternate(ctx, env.Duration, raw, jet)
			if err != nil {
				return Result{}, err
			}
			return Result{
				Unit: "events/s", Rate: rate * perAppend, RawName: "raw atomic batch of 10", RawRate: rawRate * perAppend,
				Ratio:   ratio(rate, rawRate),
				Metrics: []Metric{{Name: "appends/s", Value: rate, Unit: "appends/s"}},
			}, nil
		},
	}
}

// seedAggregate writes n events to one aggregate in full atomic batches.
func seedAggregate(ctx context.Context, se *storeEnv, typ, id string, n int) error {
	var pos streams.Position
	for pos.Version < uint64(n) {
		size := min(streams.MaxBatchEvents, n-int(pos.Version))
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
