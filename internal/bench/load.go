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

// loadCase is one aggregate the load scenario reads, and its readers.
type loadCase struct {
	id                string
	perCommit, events int
	jet, raw, floor   *loadMethod
}

func loadScenario() Scenario {
	return Scenario{
		Name:       "load",
		Replicated: true,
		Description: "load a 1,000-event aggregate (no snapshot) written in commits of 100, as the PostgreSQL peer writes it, " +
			"and one written in one-event commits: p50/p99 against a raw ordered consumer",
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
			headerless, err := newHeaderlessReader(se.nc)
			if err != nil {
				return Result{}, err
			}
			defer headerless.close()
			cases := []*loadCase{{id: "long", perCommit: 100, events: events}, {id: "single", perCommit: 1, events: events}}
			for _, c := range cases {
				if err := seedAggregate(ctx, se, "bench", c.id, c.events, c.perCommit); err != nil {
					return Result{}, err
				}
				subject, commits := "events.bench."+c.id, (c.events+c.perCommit-1)/c.perCommit
				c.jet = &loadMethod{read: func(ctx context.Context) error {
					n := 0
					for _, err := range se.store.Load(ctx, "bench", c.id, 0) {
						if err != nil {
							return err
						}
						n++
					}
					if n != c.events {
						return fmt.Errorf("loaded %d events, want %d", n, c.events)
					}
					return nil
				}}
				c.raw = &loadMethod{read: func(ctx context.Context) error { return orderedRead(ctx, se.js, subject, commits) }}
				c.floor = &loadMethod{read: func(ctx context.Context) error { return headerless.read(ctx, subject, commits) }}
			}
			rounds := 0
			deadline := time.Now().Add(env.Duration)
			for rounds < 20 || (time.Now().Before(deadline) && rounds < 2000) {
				for _, c := range cases {
					for _, m := range []*loadMethod{c.raw, c.jet, c.floor} {
						if err := m.measure(ctx); err != nil {
							return Result{}, err
						}
					}
				}
				rounds++
			}
			long, single := cases[0], cases[1]
			jp50, rp50 := Percentile(long.jet.wall, 50), Percentile(long.raw.wall, 50)
			return Result{
				Unit: "loads/s", Rate: float64(time.Second) / float64(jp50),
				RawName: "ordered consumer", RawRate: float64(time.Second) / float64(rp50),
				Ratio:  ratio(float64(rp50), float64(jp50)),
				Target: "p50 and p99 ≤ PostgreSQL's (sidebyside.sh) and faster than raw (ratio > 1)",
				Metrics: []Metric{
					{Name: "jetflow p50", Value: Millis(jp50), Unit: "ms"},
					{Name: "jetflow p99", Value: Millis(Percentile(long.jet.wall, 99)), Unit: "ms"},
					{Name: "jetflow CPU per load p50", Value: Millis(Percentile(long.jet.cpu, 50)), Unit: "ms"},
					{Name: "raw ordered consumer p50", Value: Millis(rp50), Unit: "ms"},
					{Name: "raw ordered consumer p99", Value: Millis(Percentile(long.raw.wall, 99)), Unit: "ms"},
					{Name: "raw CPU per load p50", Value: Millis(Percentile(long.raw.cpu, 50)), Unit: "ms"},
					{Name: "events per load", Value: float64(long.events), Unit: "events"},
					{Name: "events per commit", Value: float64(long.perCommit), Unit: "events"},
					// The worst case: every event a commit of its own.
					{Name: "one-event commits: jetflow p50", Value: Millis(Percentile(single.jet.wall, 50)), Unit: "ms"},
					{Name: "one-event commits: jetflow p99", Value: Millis(Percentile(single.jet.wall, 99)), Unit: "ms"},
					{Name: "one-event commits: raw ordered consumer p50", Value: Millis(Percentile(single.raw.wall, 50)), Unit: "ms"},
					{Name: "one-event commits: raw ordered consumer p99", Value: Millis(Percentile(single.raw.wall, 99)), Unit: "ms"},
					// What the server takes to send the bodies alone, which
					// a load reads, not decoded: the floor of a load.
					{Name: "one-event commits: bodies only p50", Value: Millis(Percentile(single.floor.wall, 50)), Unit: "ms"},
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
	got := 0
	// On a cluster the consumer just created may not be listening yet on
	// its node (no responders): ask again, as a raw reader must.
	for wait := time.Millisecond; ; wait *= 2 {
		batch, err := cons.FetchNoWait(n)
		if err != nil {
			return err
		}
		for range batch.Messages() {
			got++
		}
		if got > 0 || !errors.Is(batch.Error(), nats.ErrNoResponders) || wait > time.Second {
			break
		}
		time.Sleep(wait)
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
			return fmt.Errorf("ordered consumer read %d of %d (%v)", got, n, more.Error())
		}
	}
	return nil
}

// headerlessReader issues batched direct gets with no_hdr, as a load
// does, and reads the bodies without decoding them: the floor of a load,
// what the server and the client take to move the bytes.
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
