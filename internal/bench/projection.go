package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

const (
	projectionDefaultEvents = 200_000
	// projectionEventsPerUser: created, updated, status changed, updated.
	projectionEventsPerUser = 4
	projectionRounds        = 2
	projectionRawBatch      = 1000
)

func projectionScenario() Scenario {
	return Scenario{
		Name: "projection",
		Description: "the users projection catching up over 200,000 stored events (50,000 users, 4 events each, 1,000 users " +
			"active at a time), against a raw pull consumer with explicit acks over the same events; the same again with " +
			"each user's events a whole wave apart (no two in one catch-up window) as an extra figure",
		Run: runProjection,
	}
}

func runProjection(ctx context.Context, env *Env) (Result, error) {
	count := env.Count
	if count <= 0 {
		count = projectionDefaultEvents
	}
	dom, err := readDomain(env)
	if err != nil {
		return Result{}, err
	}
	userCount := count / projectionEventsPerUser
	total := userCount * projectionEventsPerUser
	se, err := newStoreEnv(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer se.Close()
	sessions := streams.DefaultConfig()
	waves := streams.Config{EventStream: "BENCH_WAVES", SubjectPrefix: "waves"}
	if _, err := streams.EnsureStream(ctx, se.js, waves.EventStreamConfig()); err != nil {
		return Result{}, err
	}
	lastSessions, err := seedEvents(ctx, se.js, dom, sessions, userCount, projectionEventsPerUser, shapeSessions)
	if err != nil {
		return Result{}, fmt.Errorf("seed: %w", err)
	}
	lastWaves, err := seedEvents(ctx, se.js, dom, waves, userCount, projectionEventsPerUser, shapeWaves)
	if err != nil {
		return Result{}, fmt.Errorf("seed: %w", err)
	}
	// Alternate, best round each: every round reads every event through
	// fresh consumers (and, for jetflow, into a fresh bucket).
	var raw, jet, jetWaves projectionRun
	for r := range projectionRounds {
		rr, err := consumeEventsRaw(ctx, env, dom, sessions, fmt.Sprintf("raw_projection_%d", r), total)
		if err != nil {
			return Result{}, fmt.Errorf("raw: %w", err)
		}
		raw = raw.best(projectionRun{rate: rr})
		jr, err := catchUpProjection(ctx, env, dom, sessions, fmt.Sprintf("users%d", r), lastSessions, total)
		if err != nil {
			return Result{}, fmt.Errorf("jetflow: %w", err)
		}
		jet = jet.best(jr)
	}
	if jetWaves, err = catchUpProjection(ctx, env, dom, waves, "waves", lastWaves, total); err != nil {
		return Result{}, fmt.Errorf("jetflow (waves): %w", err)
	}
	return Result{
		Unit:    "events/s",
		Rate:    jet.rate,
		RawName: "pull consume, explicit ack",
		RawRate: raw.rate,
		Ratio:   ratio(jet.rate, raw.rate),
		Target:  "≥ 0.50",
		Metrics: []Metric{
			{Name: "events", Value: float64(total), Unit: "events"},
			{Name: "KV writes per event", Value: jet.writesPerEvent, Unit: "writes"},
			{Name: "waves: jetflow", Value: jetWaves.rate, Unit: "events/s"},
			{Name: "waves: ratio to raw", Value: ratio(jetWaves.rate, raw.rate), Unit: "x"},
			{Name: "waves: KV writes per event", Value: jetWaves.writesPerEvent, Unit: "writes"},
		},
	}, nil
}

// projectionRun is one measured catch-up.
type projectionRun struct {
	rate           float64
	writesPerEvent float64
}

func (p projectionRun) best(q projectionRun) projectionRun {
	if q.rate > p.rate {
		return q
	}
	return p
}

// Shapes of the seeded events.
const (
	// shapeSessions: 1,000 users active at a time, each user's events
	// interleaved with theirs (a user's 4 events span ~4,000 events), as
	// sign-ups followed by profile changes produce them.
	shapeSessions = "sessions"
	// shapeWaves: every user created, then every user changed, and so on:
	// a user's events are a full wave (users) apart, so no window of the
	// projection holds two of them. The worst case for coalescing.
	shapeWaves = "waves"
)

// seedEvents writes perUser events for each of userCount entities straight
// to the stream cfg describes, with the wire headers, in the given shape,
// and returns the last stream sequence.
func seedEvents(ctx context.Context, js jetstream.JetStream, dom ReadDomain, scfg streams.Config, userCount, perUser int, shape string) (uint64, error) {
	var failed atomic.Int64
	pjs, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return 0, err
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	publish := func(u, n int) error {
		ev, err := dom.SeedEvent(u, n)
		if err != nil {
			return err
		}
		at = at.Add(time.Millisecond)
		msg := &nats.Msg{Subject: scfg.SubjectPrefix + "." + ev.AggregateType + "." + ev.AggregateID, Data: ev.Data, Header: nats.Header{
			wire.HeaderMsgID:         {fmt.Sprintf("seed-%d-%d", u, n)},
			wire.HeaderEventType:     {ev.Type},
			wire.HeaderAggregateType: {ev.AggregateType},
			wire.HeaderAggregateID:   {ev.AggregateID},
			wire.HeaderVersion:       {strconv.Itoa(n + 1)},
			wire.HeaderSchema:        {"1"},
			wire.HeaderOccurredAt:    {at.Format(time.RFC3339Nano)},
			wire.HeaderSource:        {"bench"},
		}}
		_, err = streams.PublishAsync(ctx, pjs, msg) // waits out a stall, as the jetflow side does
		return err
	}
	switch shape {
	case shapeWaves:
		for n := range perUser {
			for u := range userCount {
				if err := publish(u, n); err != nil {
					return 0, err
				}
			}
		}
	default:
		const active = 1000
		rng := rand.New(rand.NewPCG(42, 7))
		type slot struct{ user, next int }
		slots := make([]slot, 0, active)
		nextUser := 0
		for len(slots) < active && nextUser < userCount {
			slots = append(slots, slot{user: nextUser})
			nextUser++
		}
		for len(slots) > 0 {
			i := rng.IntN(len(slots))
			if err := publish(slots[i].user, slots[i].next); err != nil {
				return 0, err
			}
			if slots[i].next++; slots[i].next == perUser {
				if nextUser < userCount {
					slots[i] = slot{user: nextUser}
					nextUser++
				} else {
					slots[i] = slots[len(slots)-1]
					slots = slots[:len(slots)-1]
				}
			}
		}
	}
	select {
	case <-pjs.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if n := failed.Load(); n > 0 {
		return 0, fmt.Errorf("%d seed publishes failed", n)
	}
	st, err := js.Stream(ctx, scfg.EventStream)
	if err != nil {
		return 0, err
	}
	return st.CachedInfo().State.LastSeq, nil
}

// consumeEventsRaw reads count user events with the plain pull consumer an
// application would write, acking each.
func consumeEventsRaw(ctx context.Context, env *Env, dom ReadDomain, scfg streams.Config, name string, count int) (float64, error) {
	return rawPullConsume(ctx, env, scfg.EventStream, jetstream.ConsumerConfig{
		Durable:        name,
		AckPolicy:      jetstream.AckExplicitPolicy,
		FilterSubjects: dom.Projection(scfg).Subjects,
		MaxAckPending:  4 * projectionRawBatch,
	}, projectionRawBatch, count)
}

// catchUpProjection runs the domain's projection under name into a fresh
// bucket until its checkpoint reaches last.
func catchUpProjection(ctx context.Context, env *Env, dom ReadDomain, scfg streams.Config, name string, last uint64, events int) (projectionRun, error) {
	nc, err := env.Connect()
	if err != nil {
		return projectionRun{}, err
	}
	defer nc.Close()
	cfg := projections.Config{Streams: scfg}
	p := dom.Projection(cfg.Streams)
	p.Name = name
	r, err := projections.NewRunner(nc, cfg, []projections.Projection{p}, projections.WithLogger(env.Logger))
	if err != nil {
		return projectionRun{}, err
	}
	start := time.Now()
	if err := r.Start(ctx); err != nil {
		return projectionRun{}, err
	}
	defer func() { _ = r.Stop(context.Background()) }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Minute)
	for {
		s, err := r.Status(name)
		if err != nil {
			return projectionRun{}, err
		}
		if s.LastApplied >= last {
			took := time.Since(start)
			run := projectionRun{rate: float64(events) / took.Seconds()}
			if st, err := jetstream.New(nc); err == nil {
				if kv, err := st.Stream(ctx, "KV_"+s.Bucket); err == nil {
					run.writesPerEvent = float64(kv.CachedInfo().State.LastSeq) / float64(events)
				}
			}
			return run, nil
		}
		if s.State == projections.StateFailed {
			return projectionRun{}, fmt.Errorf("projection failed: %+v", s.Failure)
		}
		select {
		case <-tick.C:
		case <-deadline:
			return projectionRun{}, fmt.Errorf("projection at %d of %d after 5 minutes", s.LastApplied, last)
		case <-ctx.Done():
			return projectionRun{}, ctx.Err()
		}
	}
}
