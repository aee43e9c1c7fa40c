package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/consumers"
)

const (
	workerTopic        = "benchwork"
	workerDefaultCount = 200_000
	// workerBatch is the pull-ahead of both sides: large batches are how a
	// pull consumer gets its throughput.
	workerBatch = 1000
	// workerRounds of each side, alternating; the best of each is reported.
	workerRounds = 3
)

func workerScenario() Scenario {
	return Scenario{
		Name:        "worker",
		Description: "a worker with a no-op handler over a topic backlog, against a raw pull consumer with explicit acks",
		Run:         runWorker,
	}
}

func runWorker(ctx context.Context, env *Env) (Result, error) {
	count := env.Count
	if count <= 0 {
		count = workerDefaultCount
	}
	p, err := newPubEnv(env)
	if err != nil {
		return Result{}, err
	}
	defer p.nc.Close()
	if _, err := consumers.EnsureTopic(ctx, p.js, consumers.TopicConfig{Name: workerTopic}); err != nil {
		return Result{}, err
	}
	pub := consumers.NewPublisher(p.js)
	for range count {
		if _, err := pub.PublishAsync(ctx, workerTopic, consumers.Outgoing{Key: "order", Data: benchMsgData}); err != nil {
			return Result{}, err
		}
	}
	if err := pub.Flush(ctx); err != nil {
		return Result{}, err
	}
	if e := p.errs.Load(); e > 0 {
		return Result{}, fmt.Errorf("%d publishes failed", e)
	}

	// Alternate, best round each (see runPublish); every round reads the
	// whole backlog through fresh consumers.
	var best [2]float64
	for r := range workerRounds {
		raw, err := consumeRaw(ctx, env, fmt.Sprintf("raw%d", r), count)
		if err != nil {
			return Result{}, fmt.Errorf("raw: %w", err)
		}
		jf, err := consumeWorker(ctx, env, fmt.Sprintf("jetflow%d", r), count)
		if err != nil {
			return Result{}, fmt.Errorf("jetflow: %w", err)
		}
		best[0], best[1] = max(best[0], raw), max(best[1], jf)
	}
	return Result{
		Unit:    "msg/s",
		Rate:    best[1],
		RawName: "pull consume, explicit ack",
		RawRate: best[0],
		Ratio:   ratio(best[1], best[0]),
		Target:  "≥ 0.90",
		Metrics: []Metric{{Name: "messages per run", Value: float64(count), Unit: "msg"}},
	}, nil
}

// consumeRaw reads count messages with the plain JetStream pull consumer an
// application would write: Consume with the same batch, Ack per message.
func consumeRaw(ctx context.Context, env *Env, name string, count int) (float64, error) {
	return rawPullConsume(ctx, env, consumers.TopicStream(workerTopic), jetstream.ConsumerConfig{
		Durable:        name,
		AckPolicy:      jetstream.AckExplicitPolicy,
		FilterSubjects: []string{"topic." + workerTopic + ".normal.>"},
		MaxAckPending:  4 * workerBatch,
	}, workerBatch, count)
}

// rawPullConsume creates a durable consumer and reads count messages with
// Consume, acking each without waiting: the raw rate scenarios compare with.
func rawPullConsume(ctx context.Context, env *Env, stream string, cfg jetstream.ConsumerConfig, batch, count int) (float64, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return 0, err
	}
	var n atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if n.Add(1) == int64(count) {
			close(done)
		}
	}, jetstream.PullMaxMessages(batch))
	if err != nil {
		return 0, err
	}
	defer cc.Stop()
	if err := wait(ctx, done); err != nil {
		return 0, err
	}
	if err := nc.Flush(); err != nil {
		return 0, err
	}
	return float64(count) / time.Since(start).Seconds(), nil
}

// consumeWorker reads count messages with a jetflow worker and a no-op handler.
func consumeWorker(ctx context.Context, env *Env, name string, count int) (float64, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	var n atomic.Int64
	done := make(chan struct{})
	sub := consumers.Subscription{
		Name:      name,
		Topic:     workerTopic,
		BatchSize: workerBatch,
		Handler: func(context.Context, *consumers.Message) error {
			if n.Add(1) == int64(count) {
				close(done)
			}
			return nil
		},
	}
	if err := consumers.EnsureSubscription(ctx, js, sub); err != nil {
		return 0, err
	}
	w, err := consumers.NewWorker(js, sub, consumers.WithLogger(env.Logger))
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := w.Start(ctx); err != nil {
		return 0, err
	}
	if err := wait(ctx, done); err != nil {
		_ = w.Stop(context.Background())
		return 0, err
	}
	if err := nc.Flush(); err != nil {
		return 0, err
	}
	rate := float64(count) / time.Since(start).Seconds()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.Stop(sctx); err != nil {
		return 0, fmt.Errorf("stop: %w", err)
	}
	if s := w.Stats(); s.Acked != uint64(count) {
		return 0, fmt.Errorf("worker acked %d of %d", s.Acked, count)
	}
	return rate, nil
}

func wait(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		return errors.New("consumer did not finish within 5 minutes")
	}
}
