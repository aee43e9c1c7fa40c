package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
)

// RunJetStream is what RunWorkers needs: provisioning and consuming.
type RunJetStream interface {
	WorkerJetStream
}

// RunWorkers provisions cfg's topics (and the DLQ when it is missing; an
// existing DLQ is never changed by a worker), runs one worker per
// subscription with its webhook handler (wrapped in Recover and Logging),
// and on ctx's end stops them all within the shutdown grace period. It
// returns when every worker has stopped. opts apply to every worker
// (WithLogger, WithMetrics…).
func RunWorkers(ctx context.Context, js RunJetStream, cfg WorkerConfig, opts ...WorkerOption) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	o := defaultWorkerOptions()
	for _, opt := range opts {
		opt(&o)
	}
	logger := o.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, t := range cfg.Topics {
		if _, err := EnsureTopic(ctx, js, t); err != nil {
			return err
		}
	}
	client := &http.Client{}
	base := append([]WorkerOption{WithDLQ(cfg.DLQ)}, opts...)
	var workers []*Worker
	stopAll := func(sctx context.Context) error {
		var wg sync.WaitGroup
		errs := make([]error, len(workers))
		for i, w := range workers {
			wg.Go(func() { errs[i] = w.Stop(sctx) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	for _, sc := range cfg.Subscriptions {
		h, err := Webhook(sc.Webhook, client)
		if err != nil {
			return err
		}
		sub := sc.Subscription
		sub.Handler = h
		if sc.Webhook.Secret == "" {
			// Said once at start: a receiver cannot tell these calls from
			// anyone else's.
			logger.Warn("webhook calls are not signed; give the subscription a webhook secret", slog.String("subscription", sub.Name))
		}
		mws := []Middleware{Recover(), Logging(logger.With(slog.String("subscription", sub.Name)))}
		mws = append(mws, cfg.Middleware...)
		sub.Middleware = append(mws, sub.Middleware...)
		w, err := NewWorker(js, sub, base...)
		if err == nil {
			err = w.Start(ctx)
		}
		if err != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
			defer cancel()
			return errors.Join(fmt.Errorf("consumers: start %s: %w", sub.Name, err), stopAll(sctx))
		}
		workers = append(workers, w)
	}
	logger.Info("workers running", slog.Int("subscriptions", len(workers)))
	// The first worker to end on its own ends them all: a worker that no
	// longer receives must not go unnoticed behind the others.
	ended := make(chan *Worker, len(workers))
	quit := make(chan struct{})
	defer close(quit)
	for _, w := range workers {
		go func() {
			select {
			case <-w.Done():
				ended <- w
			case <-quit:
			}
		}()
	}
	var failure error
	select {
	case <-ctx.Done():
	case w := <-ended:
		failure = w.Err()
		logger.Error("worker ended; stopping the others", slog.String("subscription", w.Subscription().Name), slog.Any("error", failure))
	}
	logger.Info("shutting down workers", slog.Duration("grace", cfg.ShutdownGrace))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
	defer cancel()
	return errors.Join(failure, stopAll(sctx))
}
