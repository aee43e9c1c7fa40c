package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// ErrNoDomain is returned by scenarios that need a domain when none is set.
var ErrNoDomain = errors.New("bench: this scenario needs a domain (Options.Domain)")

// commandNode is a command service on the scenario's server, connected
// in-process as `jetflow serve` is.
type commandNode struct {
	p    *platform.Platform
	cmds Commands
}

func startCommandNode(ctx context.Context, env *Env) (*commandNode, error) {
	if env.Domain == nil {
		return nil, ErrNoDomain
	}
	p, err := platform.Start(ctx, platform.Config{Server: env.Server, Streams: env.streamsConfig(), Name: "bench-serve", Logger: env.Logger})
	if err != nil {
		return nil, err
	}
	cmds, err := env.Domain.StartCommands(ctx, p, env.Logger)
	if err != nil {
		p.Close()
		return nil, err
	}
	return &commandNode{p: p, cmds: cmds}, nil
}

func (n *commandNode) Close() {
	_ = n.cmds.Stop(context.Background())
	n.p.Close()
}

// sendCommand sends one command and fails on an error reply.
func sendCommand(ctx context.Context, nc *nats.Conn, subject string, body []byte) (wire.CommandReply, error) {
	msg, err := nc.RequestWithContext(ctx, subject, body)
	if err != nil {
		return wire.CommandReply{}, err
	}
	if e := wire.ParseErrorReply(msg); e != nil {
		return wire.CommandReply{}, fmt.Errorf("%s: %w", subject, e)
	}
	var r wire.CommandReply
	err = json.Unmarshal(msg.Data, &r)
	return r, err
}

// clients opens n TCP connections to the scenario's server.
func clients(env *Env, n int) ([]*nats.Conn, func(), error) {
	conns := make([]*nats.Conn, 0, n)
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for range n {
		nc, err := env.Connect()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		conns = append(conns, nc)
	}
	return conns, closeAll, nil
}

// latencies collects request latencies from many goroutines.
type latencies struct {
	mu      sync.Mutex
	samples []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.samples = append(l.samples, d)
	l.mu.Unlock()
}

func commandScenario() Scenario {
	const clientCount = 64
	return Scenario{
		Name:        "command",
		Replicated:  true,
		Description: "64 NATS clients over TCP: create then update distinct users",
		Run: func(ctx context.Context, env *Env) (Result, error) {
			node, err := startCommandNode(ctx, env)
			if err != nil {
				return Result{}, err
			}
			defer node.Close()
			conns, closeAll, err := clients(env, clientCount)
			if err != nil {
				return Result{}, err
			}
			defer closeAll()

			echoRate, err := echoRate(ctx, env, conns)
			if err != nil {
				return Result{}, fmt.Errorf("raw echo: %w", err)
			}
			se, err := newStoreEnv(ctx, env)
			if err != nil {
				return Result{}, err
			}
			defer se.Close()
			body := rawCommit(1)
			raw := func(ctx context.Context, d time.Duration, round int) (float64, error) {
				rawSeqs := make([]uint64, clientCount*1000)
				prefix := fmt.Sprintf("events.rawbench.c%d-", round)
				return timed(ctx, d, clientCount, func(ctx context.Context, w, i int) error {
					a := w*1000 + i%1000
					seq, err := rawAppend(ctx, se.js, prefix+strconv.Itoa(a), rawSeqs[a], body)
					if err == nil {
						rawSeqs[a] = seq
					}
					return err
				})
			}
			var lat latencies
			jet := func(ctx context.Context, d time.Duration, round int) (float64, error) {
				return timed(ctx, d, clientCount, func(ctx context.Context, w, i int) error {
					nc := conns[w]
					subject, body := env.Domain.Create((round*clientCount+w)*1_000_000 + i)
					start := time.Now()
					created, err := sendCommand(ctx, nc, subject, body)
					if err != nil {
						return err
					}
					lat.add(time.Since(start))
					subject, body = env.Domain.Update(created.AggregateID, i)
					start = time.Now()
					if _, err := sendCommand(ctx, nc, subject, body); err != nil {
						return err
					}
					lat.add(time.Since(start))
					return nil
				})
			}
			rawRate, rate, err := alternate(ctx, env.Duration, raw, jet)
			if err != nil {
				return Result{}, err
			}
			rate *= 2 // each op is two commands
			p50, p99 := Percentile(lat.samples, 50), Percentile(lat.samples, 99)
			return Result{
				Unit: "commands/s", Rate: rate, RawName: "64 raw writers, expected seq", RawRate: rawRate,
				Ratio: ratio(rate, rawRate), Target: "≥ 0.45, p99 ≤ 20 ms",
				Metrics: []Metric{
					{Name: "p50", Value: Millis(p50), Unit: "ms"},
					{Name: "p99", Value: Millis(p99), Unit: "ms"},
					{Name: "raw core request/reply echo", Value: echoRate, Unit: "req/s"},
					{Name: "ratio to echo", Value: ratio(rate, echoRate), Unit: "x"},
				},
			}, nil
		},
	}
}

// echoRate measures core NATS request/reply from the same clients to an
// in-process echo responder: the floor of any service over NATS.
func echoRate(ctx context.Context, env *Env, conns []*nats.Conn) (float64, error) {
	p, err := platform.Start(ctx, platform.Config{Server: env.Server, Streams: streams.DefaultConfig(), Name: "bench-echo"})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	sub, err := p.Conn.QueueSubscribe("bench.echo", "echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	if err := p.Conn.Flush(); err != nil {
		return 0, err
	}
	body := []byte(`{"username":"alice","email":"alice@example.com"}`)
	if err := awaitResponders(ctx, conns, "bench.echo", body); err != nil {
		return 0, err
	}
	return timed(ctx, env.Duration, len(conns), func(ctx context.Context, w, _ int) error {
		_, err := conns[w].RequestWithContext(ctx, "bench.echo", body)
		return err
	})
}

// awaitResponders returns once every connection's request to subject is
// answered: on a cluster, a subscription on one node reaches the others'
// interest a moment later, and a request in between finds no responders.
func awaitResponders(ctx context.Context, conns []*nats.Conn, subject string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, nc := range conns {
		for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
			_, err := nc.RequestWithContext(ctx, subject, body)
			if err == nil {
				break
			}
			if !errors.Is(err, nats.ErrNoResponders) {
				return fmt.Errorf("%s: %w", subject, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: no responder reached every client: %w", subject, ctx.Err())
			case <-time.After(wait):
			}
		}
	}
	return nil
}

func loadSnapshotScenario() Scenario {
	return Scenario{
		Name:        "load-snapshot",
		Description: "load a 1,000-event user with snapshots on (snapshot + events after it)",
		Run: func(ctx context.Context, env *Env) (Result, error) {
			node, err := startCommandNode(ctx, env)
			if err != nil {
				return Result{}, err
			}
			defer node.Close()
			nc, err := env.Connect()
			if err != nil {
				return Result{}, err
			}
			defer nc.Close()
			events := 1000
			if env.Count > 0 {
				events = env.Count
			}
			subject, body := env.Domain.Create(1)
			created, err := sendCommand(ctx, nc, subject, body)
			if err != nil {
				return Result{}, err
			}
			id := created.AggregateID
			for i := 1; i < events; i++ {
				subject, body := env.Domain.Update(id, i)
				if _, err := sendCommand(ctx, nc, subject, body); err != nil {
					return Result{}, err
				}
			}
			load := node.cmds.Load
			snapKey, err := streams.SnapshotKey(env.Domain.AggregateType(), id)
			if err != nil {
				return Result{}, err
			}
			kv, err := node.p.JS.KeyValue(ctx, streams.DefaultSnapshotBucket)
			if err != nil {
				return Result{}, err
			}
			var jet, raw []time.Duration
			deadline := time.Now().Add(env.Duration)
			for i := 0; i < 50 || (time.Now().Before(deadline) && i < 20000); i++ {
				start := time.Now()
				if _, err := kv.Get(ctx, snapKey); err != nil {
					return Result{}, fmt.Errorf("raw snapshot get: %w", err)
				}
				raw = append(raw, time.Since(start))
				start = time.Now()
				v, err := load(ctx, id)
				if err != nil {
					return Result{}, err
				}
				if v != uint64(events) {
					return Result{}, fmt.Errorf("loaded version %d, want %d", v, events)
				}
				jet = append(jet, time.Since(start))
			}
			jp50, jp99 := Percentile(jet, 50), Percentile(jet, 99)
			rp50 := Percentile(raw, 50)
			return Result{
				Unit: "loads/s", Rate: float64(time.Second) / float64(jp50),
				RawName: "KV get of the snapshot", RawRate: float64(time.Second) / float64(rp50),
				Ratio: ratio(float64(rp50), float64(jp50)), Target: "p50 ≤ 1 ms",
				Metrics: []Metric{
					{Name: "p50", Value: Millis(jp50), Unit: "ms"},
					{Name: "p99", Value: Millis(jp99), Unit: "ms"},
					{Name: "raw KV get p50", Value: Millis(rp50), Unit: "ms"},
				},
			}, nil
		},
	}
}
