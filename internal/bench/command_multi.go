package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/streams"
)

// eventsPerMultiCommand is how many events the multi-event command decides:
// an order placed with two lines, a transfer that debits, credits and
// records.
const eventsPerMultiCommand = 3

// tally is the bench's own aggregate for the multi-event command: any
// domain has commands of several events, and this measures one without
// depending on the registered domain.
type tally struct{ Events int }

func (t *tally) Apply(streams.Event) error { t.Events++; return nil }

type record struct {
	ID string `json:"id,omitempty"`
}

// startTallyService serves cmd.tally.record on p: a command that creates
// a tally with eventsPerMultiCommand events in one commit.
func startTallyService(ctx context.Context, p *platform.Platform) (*aggregates.Service, error) {
	repo, err := aggregates.NewRepository("tally", func() *tally { return &tally{} }, p.Store, p.Snapshots)
	if err != nil {
		return nil, err
	}
	svc, err := aggregates.NewService(p.Conn, aggregates.ServiceConfig{})
	if err != nil {
		return nil, err
	}
	err = aggregates.Register(svc, repo, aggregates.CommandSpec[*tally, record]{
		Name:        "record",
		AggregateID: func(c *record) string { return c.ID },
		AssignID:    func(c *record, id string) { c.ID = id },
		Decide: func(_ record, t *aggregates.Instance[*tally]) ([]aggregates.Change, error) {
			if t.Exists() {
				return nil, aggregates.Refused("tally %s exists", t.ID)
			}
			changes := make([]aggregates.Change, eventsPerMultiCommand)
			for i := range changes {
				changes[i] = aggregates.Change{Type: "tally.recorded", Data: map[string]int{"n": i}}
			}
			return changes, nil
		},
	})
	if err == nil {
		err = svc.Start(ctx)
	}
	if err != nil {
		return nil, err
	}
	return svc, nil
}

func commandMultiScenario() Scenario {
	const clientCount = 64
	return Scenario{
		Name:       "command-multi",
		Replicated: true,
		Description: fmt.Sprintf("64 NATS clients over TCP: a command that writes %d events in one commit (a new aggregate each)",
			eventsPerMultiCommand),
		Run: func(ctx context.Context, env *Env) (Result, error) {
			p, err := platform.Start(ctx, platform.Config{Server: env.Server, Streams: env.streamsConfig(), Name: "bench-serve", Logger: env.Logger})
			if err != nil {
				return Result{}, err
			}
			defer p.Close()
			svc, err := startTallyService(ctx, p)
			if err != nil {
				return Result{}, err
			}
			defer func() { _ = svc.Stop(context.Background()) }()
			conns, closeAll, err := clients(env, clientCount)
			if err != nil {
				return Result{}, err
			}
			defer closeAll()
			se, err := newStoreEnv(ctx, env)
			if err != nil {
				return Result{}, err
			}
			defer se.Close()
			// The first command creates what every later one uses (the
			// stream's and bucket's handles): keep it out of the timing.
			if _, err := sendCommand(ctx, conns[0], "cmd.tally.record", []byte(`{}`)); err != nil {
				return Result{}, fmt.Errorf("first command: %w", err)
			}
			body := rawCommit(eventsPerMultiCommand)
			raw := func(ctx context.Context, d time.Duration, round int) (float64, error) {
				return timed(ctx, d, clientCount, func(ctx context.Context, w, i int) error {
					_, err := rawAppend(ctx, se.js, fmt.Sprintf("events.rawbench.m%d-%d-%d", round, w, i), 0, body)
					return err
				})
			}
			var lat latencies
			jet := func(ctx context.Context, d time.Duration, _ int) (float64, error) {
				return timed(ctx, d, clientCount, func(ctx context.Context, w, _ int) error {
					start := time.Now()
					reply, err := sendCommand(ctx, conns[w], "cmd.tally.record", []byte(`{}`))
					if err == nil && reply.Version != eventsPerMultiCommand {
						err = fmt.Errorf("recorded at version %d, want %d", reply.Version, eventsPerMultiCommand)
					}
					if err == nil {
						lat.add(time.Since(start))
					}
					return err
				})
			}
			rawRate, rate, err := alternate(ctx, env.Duration, raw, jet)
			if err != nil {
				return Result{}, err
			}
			return Result{
				Unit: "commands/s", Rate: rate, RawName: "64 raw writers of the same commits, expected seq", RawRate: rawRate,
				Ratio: ratio(rate, rawRate),
				Metrics: []Metric{
					{Name: "events/s", Value: rate * eventsPerMultiCommand, Unit: "events/s"},
					{Name: "p50", Value: Millis(Percentile(lat.samples, 50)), Unit: "ms"},
					{Name: "p99", Value: Millis(Percentile(lat.samples, 99)), Unit: "ms"},
				},
			}, nil
		},
	}
}
