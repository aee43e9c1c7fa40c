package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/streams"
)

// loadMethod is one way of reading the benchmark aggregate, timed in
// wall clock and in the process's CPU time (server included: it is
// embedded), so a reader can tell a slow path from a busy one.
type loadMethod struct {
	read      func(context.Context) error
	wall, cpu []time.Duration
}

func (m *loadMethod) measure(ctx context.Context) error {
	cpu0, start := processCPU(), time.Now()
	if err := m.read(ctx); err != nil {
		return err
	}
	m.wall = append(m.wall, time.Since(start))
	m.cpu = append(m.cpu, processCPU()-cpu0)
	return nil
}

func loadScenario() Scenario {
	return Scenario{
		Name:        "load",
		Description: "load a 1,000-event aggregate (no snapshot): p50/p99 against a raw ordered consumer",
		Run: func(ctx context.Context, env *Env) (Result, error) {
			se, err := newStoreEnv(ctx, env)
			if err != nil {
				return Result{}, err
			}
			defer se.Close()
			events := 1000
			if env.Count > 0 {
				events = env.Count
			}
			if err := seedAggregate(ctx, se, "bench", "long", events); err != nil {
				return Result{}, err
			}
			headerless, err := newHeaderlessReader(se.nc)
			if err != nil {
				return Result{}, err
			}
			defer headerless.close()
			const subject = "events.bench.long"
			jet := &loadMethod{read: func(ctx context.Context) error {
				n := 0
				for _, err := range se.store.Load(ctx, "bench", "long", 0) {
					if err != nil {
						return err
					}
					n++
				}
				if n != events {
					return fmt.Errorf("loaded %d events, want %d", n, events)
				}
				return nil
			}}
			raw := &loadMethod{read: func(ctx context.Context) error { return orderedRead(ctx, se.js, subject, events) }}
			floor := &loadMethod{read: func(ctx context.Context) error { return headerless.read(ctx, subject, events) }}

			rounds := 0
			deadline := time.Now().Add(env.Duration)
			for rounds < 20 || (time.Now().Before(deadline) && rounds < 2000) {
				for _, m := range []*loadMethod{raw, jet, floor} {
					if err := m.measure(ctx); err != nil {
						return Result{}, err
					}
				}
				rounds++
			}
			jp50, rp50 := Percentile(jet.wall, 50), Percentile(raw.wall, 50)
			return Result{
				Unit: "loads/s", Rate: float64(time.Second) / float64(jp50),
				RawName: "ordered consumer", RawRate: float64(time.Second) / float64(rp50),
				Ratio:  ratio(float64(rp50), float64(jp50)),
				Target: "p50 ≤ 3 ms and faster than raw (ratio > 1)",
				Metrics: []Metric{
					{Name: "jetflow p50", Value: Millis(jp50), Unit: "ms"},
					{Name: "jetflow p99", Value: Millis(Percentile(jet.wall, 99)), Unit: "ms"},
					{Name: "jetflow CPU per load p50", Value: Millis(Percentile(jet.cpu, 50)), Unit: "ms"},
					{Name: "raw ordered consumer p50", Value: Millis(rp50), Unit: "ms"},
					{Name: "raw ordered consumer p99", Value: Millis(Percentile(raw.wall, 99)), Unit: "ms"},
					{Name: "raw CPU per load p50", Value: Millis(Percentile(raw.cpu, 50)), Unit: "ms"},
					// The same batched direct get without the stored headers:
					// what the read costs when neither the server re-encodes
					// nor the client parses the envelope's headers.
					{Name: "direct get, no headers p50", Value: Millis(Percentile(floor.wall, 50)), Unit: "ms"},
					{Name: "direct get, no headers CPU p50", Value: Millis(Percentile(floor.cpu, 50)), Unit: "ms"},
					{Name: "events per load", Value: float64(events), Unit: "events"},
				},
			}, nil
		},
	}
}

// orderedRead reads n messages of subject with an ordered consumer, the raw
// way to replay one subject.
func orderedRead(ctx context.Context, js jetstream.JetStream, subject string, n int) error {
	cons, err := js.OrderedConsumer(ctx, streams.DefaultEventStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return err
	}
	batch, err := cons.FetchNoWait(n)
	if err != nil {
		return err
	}
	got := 0
	for range batch.Messages() {
		got++
	}
	for got < n {
		more, err := cons.Fetch(n-got, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return err
		}
		before := got
		for range more.Messages() {
			got++
		}
		if got == before {
			return fmt.Errorf("ordered consumer read %d of %d", got, n)
		}
	}
	return nil
}

// headerlessReader issues batched direct gets with no_hdr: the server
// sends only the bodies, so the stored headers are neither re-encoded nor
// parsed. It cannot serve a load (the envelope lives in the headers); it
// measures how much of a load's cost the headers are.
type headerlessReader struct {
	nc    *nats.Conn
	inbox string
	sub   *nats.Subscription
}

func newHeaderlessReader(nc *nats.Conn) (*headerlessReader, error) {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, errors.Join(err, sub.Unsubscribe())
	}
	return &headerlessReader{nc: nc, inbox: inbox, sub: sub}, nil
}

func (h *headerlessReader) read(ctx context.Context, subject string, n int) error {
	req := fmt.Sprintf(`{"seq":1,"next_by_subj":%q,"batch":%d,"no_hdr":true}`, subject, n+1)
	if err := h.nc.PublishRequest(jetstream.DefaultAPIPrefix+"DIRECT.GET."+streams.DefaultEventStream, h.inbox, []byte(req)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for got := 0; ; got++ {
		msg, err := h.sub.NextMsgWithContext(ctx)
		if err != nil {
			return fmt.Errorf("direct get without headers, after %d of %d: %w", got, n, err)
		}
		if len(msg.Data) == 0 { // the end-of-batch status
			if got != n {
				return fmt.Errorf("direct get without headers read %d of %d", got, n)
			}
			return nil
		}
	}
}

func (h *headerlessReader) close() { _ = h.sub.Unsubscribe() }
