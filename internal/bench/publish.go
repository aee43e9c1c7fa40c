package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// benchMsgData is a 128-byte JSON payload, a typical integration message.
var benchMsgData = []byte(`{"order_id":"ord-000000000001","customer":"cust-0001","amount":12345,"currency":"EUR","items":3,"note":"bench payload."}`)

const benchTopic = "bench"

func publishScenario() Scenario {
	return Scenario{
		Name:        "publish",
		Description: "topic publish, async and pipelined, against raw JetStream async publish of the same message",
		Run:         runPublish,
	}
}

// pubEnv is one connection with its own async-publish window.
type pubEnv struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs atomic.Int64
}

func newPubEnv(env *Env) (*pubEnv, error) {
	nc, err := env.Connect()
	if err != nil {
		return nil, err
	}
	p := &pubEnv{nc: nc}
	p.js, err = jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) {
		p.errs.Add(1)
	}))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return p, nil
}

// ackWait bounds the wait for the acks of a timed round after it ended.
const ackWait = 30 * time.Second

// timedPublish publishes with pub until d has passed, then waits for every
// ack; the rate counts the wait. A publish that stalls on a lagging server
// waits (both sides alike, see rawPublish) within the round's bound of d
// plus ackWait, as the wait for the acks does.
func timedPublish(ctx context.Context, p *pubEnv, d time.Duration, pub func(ctx context.Context, i int) error) (float64, int, error) {
	start := time.Now()
	deadline := start.Add(d)
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(ackWait))
	defer cancel()
	n := 0
	for ; ; n++ {
		if n%1024 == 0 && (time.Now().After(deadline) || ctx.Err() != nil) {
			break
		}
		if err := pub(ctx, n); err != nil {
			return 0, n, err
		}
	}
	select {
	case <-p.js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, n, fmt.Errorf("async publishes not acknowledged within %s after the round: %w", ackWait, ctx.Err())
	}
	if e := p.errs.Load(); e > 0 {
		return 0, n, fmt.Errorf("%d async publishes failed", e)
	}
	return float64(n) / time.Since(start).Seconds(), n, nil
}

// rawPublish is the raw side of the scenario: js.PublishMsgAsync of the
// message jetflow would write, through jsasync as consumers.Publisher does,
// so a stalled window is waited out the same way on both sides.
func rawPublish(js streams.AsyncPublisher, subject string, withIDs bool, prefix string) func(ctx context.Context, i int) error {
	return func(ctx context.Context, i int) error {
		m := &nats.Msg{Subject: subject, Data: benchMsgData}
		if withIDs {
			m.Header = nats.Header{
				wire.HeaderMsgID:         {prefix + strconv.Itoa(i)},
				wire.HeaderCorrelationID: {"corr-" + strconv.Itoa(i)},
			}
		}
		_, err := streams.PublishAsync(ctx, js, m)
		return err
	}
}

func runPublish(ctx context.Context, env *Env) (Result, error) {
	setup, err := newPubEnv(env)
	if err != nil {
		return Result{}, err
	}
	defer setup.nc.Close()
	if _, err := consumers.EnsureTopic(ctx, setup.js, consumers.TopicConfig{Name: benchTopic}); err != nil {
		return Result{}, err
	}
	subject := consumers.TopicSubjects(benchTopic)
	subject = subject[:len(subject)-1] + "normal.order" // the subject jetflow writes for priority normal, key "order"

	var runs int
	measure := func(withIDs, raw bool, d time.Duration) (float64, int, error) {
		runs++
		prefix := strconv.Itoa(runs) + "-" // ids unique across runs, or the duplicate window drops them
		p, err := newPubEnv(env)
		if err != nil {
			return 0, 0, err
		}
		defer p.nc.Close()
		if raw {
			return timedPublish(ctx, p, d, rawPublish(p.js, subject, withIDs, prefix))
		}
		pub := consumers.NewPublisher(p.js)
		return timedPublish(ctx, p, d, func(ctx context.Context, i int) error {
			out := consumers.Outgoing{Key: "order", Data: benchMsgData}
			if withIDs {
				out.MsgID = prefix + strconv.Itoa(i)
				out.CorrelationID = "corr-" + strconv.Itoa(i)
			}
			_, err := pub.PublishAsync(ctx, benchTopic, out)
			return err
		})
	}

	// Alternate raw and jetflow and keep each side's best round, so a noisy
	// moment on a small machine does not decide the ratio. best[withIDs][jetflow].
	round := env.Duration / 2
	var best [2][2]float64
	total := 0
	for range 2 {
		for ids := range 2 {
			for side, raw := range []bool{true, false} {
				rate, n, err := measure(ids == 1, raw, round)
				if err != nil {
					return Result{}, err
				}
				total += n
				best[ids][side] = max(best[ids][side], rate)
			}
		}
	}
	// Every acknowledged publish must be stored (ids are unique per side).
	st, err := setup.js.Stream(ctx, consumers.TopicStream(benchTopic))
	if err != nil {
		return Result{}, err
	}
	if got := st.CachedInfo().State.Msgs; got != uint64(total) {
		return Result{}, fmt.Errorf("stream holds %d messages, %d were published", got, total)
	}
	return Result{
		Unit:    "msg/s",
		Rate:    best[0][1],
		RawName: "js.PublishMsgAsync",
		RawRate: best[0][0],
		Ratio:   ratio(best[0][1], best[0][0]),
		Target:  "≥ 0.80",
		Metrics: []Metric{
			{Name: "with msg id + correlation id", Value: best[1][1], Unit: "msg/s"},
			{Name: "raw with the same headers", Value: best[1][0], Unit: "msg/s"},
			{Name: "ratio with headers", Value: ratio(best[1][1], best[1][0]), Unit: "x"},
		},
	}, nil
}
