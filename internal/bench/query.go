package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/wire"
)

const (
	queryDefaultUsers  = 10_000
	queryEventsPerUser = 3
	queryClients       = 32
	queryClientConns   = 4
	queryRYWSamples    = 400
)

func queryScenario() Scenario {
	return Scenario{
		Name: "query",
		Description: "query.users.get and query.users.list with 32 concurrent clients over 10,000 users, against raw KV get " +
			"of the same records; and read-your-writes: command reply to the answer of a get with its min_sequence, p50/p99",
		Run: runQuery,
	}
}

func runQuery(ctx context.Context, env *Env) (Result, error) {
	dom, err := readDomain(env)
	if err != nil {
		return Result{}, err
	}
	userCount := env.Count
	if userCount <= 0 {
		userCount = queryDefaultUsers
	}
	// The serving side as `jetflow serve` wires it: commands, projection,
	// queries, on one in-process connection.
	node, err := startCommandNode(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer node.Close()
	scfg := node.p.Store.Config()
	last, err := seedEvents(ctx, node.p.JS, dom, scfg, userCount, queryEventsPerUser, shapeSessions)
	if err != nil {
		return Result{}, fmt.Errorf("seed: %w", err)
	}
	stopReads, bucket, err := startReads(ctx, env, dom, node, last)
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = stopReads(context.Background()) }()

	conns, closeConns, err := clients(env, queryClientConns)
	if err != nil {
		return Result{}, err
	}
	defer closeConns()
	kvs := make([]jetstream.KeyValue, len(conns))
	for i, nc := range conns {
		js, err := jetstream.New(nc)
		if err != nil {
			return Result{}, err
		}
		if kvs[i], err = js.KeyValue(ctx, bucket); err != nil {
			return Result{}, err
		}
	}
	// Entity u's id and the key of its record, for the jetflow and the raw
	// gets of the same records.
	ids, keys := make([]string, userCount), make([]string, userCount)
	for u := range ids {
		ev, err := dom.SeedEvent(u, 0)
		if err != nil {
			return Result{}, err
		}
		ids[u] = ev.AggregateID
		if keys[u], err = dom.RecordKey(u); err != nil {
			return Result{}, err
		}
	}
	entity := func(w, i int) int { return (w*7919 + i*104729) % userCount }
	rawGet := func(ctx context.Context, d time.Duration, _ int) (float64, error) {
		return timed(ctx, d, queryClients, func(ctx context.Context, w, i int) error {
			_, err := kvs[w%len(kvs)].Get(ctx, keys[entity(w, i)])
			return err
		})
	}
	jetGet := func(ctx context.Context, d time.Duration, _ int) (float64, error) {
		return timed(ctx, d, queryClients, func(ctx context.Context, w, i int) error {
			subject, body := dom.Get(ids[entity(w, i)], 0)
			return queryOnce(ctx, conns[w%len(conns)], subject, body, nil)
		})
	}
	rawRate, getRate, err := alternate(ctx, env.Duration, rawGet, jetGet)
	if err != nil {
		return Result{}, err
	}
	// Pages that exist for every status filter: a status holds at least a
	// quarter of the records.
	pages := min(50, max(1, userCount/(20*4)))
	listRate, err := timed(ctx, env.Duration/2, queryClients, func(ctx context.Context, w, i int) error {
		// Items stay undecoded: the figure is the service's, not this client's JSON.
		var reply struct {
			Items []json.RawMessage `json:"items"`
		}
		subject, body := dom.List((w+i)%pages, i)
		if err := queryOnce(ctx, conns[w%len(conns)], subject, body, &reply); err != nil {
			return err
		}
		if len(reply.Items) == 0 {
			return fmt.Errorf("%s %s: empty page", subject, body)
		}
		return nil
	})
	if err != nil {
		return Result{}, fmt.Errorf("list: %w", err)
	}
	p50, p99, err := readYourWrites(ctx, dom, conns[0], queryRYWSamples)
	if err != nil {
		return Result{}, fmt.Errorf("read your writes: %w", err)
	}
	return Result{
		Unit:    "gets/s",
		Rate:    getRate,
		RawName: "raw KV get, 32 clients",
		RawRate: rawRate,
		Ratio:   ratio(getRate, rawRate),
		Metrics: []Metric{
			{Name: "list (20 per page)", Value: listRate, Unit: "lists/s"},
			{Name: "read-your-writes p50", Value: Millis(p50), Unit: "ms"},
			{Name: "read-your-writes p99", Value: Millis(p99), Unit: "ms"},
			{Name: "records", Value: float64(userCount), Unit: "records"},
		},
	}, nil
}

// startReads runs the domain's projection until it has applied last, then
// its queries, on the node's connection; it returns the bucket queried.
func startReads(ctx context.Context, env *Env, dom ReadDomain, node *commandNode, last uint64) (func(context.Context) error, string, error) {
	cfg := projections.Config{Streams: node.p.Store.Config()}
	p := dom.Projection(cfg.Streams)
	runner, err := projections.NewRunner(node.p.Conn, cfg, []projections.Projection{p}, projections.WithLogger(env.Logger))
	if err != nil {
		return nil, "", err
	}
	if err := runner.Start(ctx); err != nil {
		return nil, "", err
	}
	for {
		s, err := runner.Status(p.Name)
		if err != nil || s.State == projections.StateFailed {
			_ = runner.Stop(ctx)
			return nil, "", fmt.Errorf("projection %s: %v %+v", p.Name, err, s.Failure)
		}
		if s.LastApplied >= last {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopQueries, err := dom.StartQueries(ctx, node.p.Conn, cfg, env.Logger)
	if err != nil {
		_ = runner.Stop(ctx)
		return nil, "", err
	}
	s, _ := runner.Status(p.Name)
	return func(ctx context.Context) error {
		err := stopQueries(ctx)
		if serr := runner.Stop(ctx); err == nil {
			err = serr
		}
		return err
	}, s.Bucket, nil
}

// queryOnce sends one request and decodes a success into out.
func queryOnce(ctx context.Context, nc *nats.Conn, subject string, body []byte, out any) error {
	msg, err := nc.RequestWithContext(ctx, subject, body)
	if err != nil {
		return err
	}
	if e := wire.ParseErrorReply(msg); e != nil {
		return fmt.Errorf("%s: %w", subject, e)
	}
	if out != nil {
		return json.Unmarshal(msg.Data, out)
	}
	return nil
}

// readYourWrites creates entities one after another and measures, for
// each, the time from the command's reply to the reply of a get carrying
// the command's sequence as min_sequence.
func readYourWrites(ctx context.Context, dom ReadDomain, nc *nats.Conn, samples int) (time.Duration, time.Duration, error) {
	lat := make([]time.Duration, 0, samples)
	base := int(time.Now().UnixNano() % 1_000_000_000)
	for i := range samples {
		subject, body := dom.Create(base + i)
		created, err := sendCommand(ctx, nc, subject, body)
		if err != nil {
			return 0, 0, err
		}
		start := time.Now()
		var rec struct {
			ID string `json:"id"`
		}
		subject, body = dom.Get(created.AggregateID, created.Sequence)
		if err := queryOnce(ctx, nc, subject, body, &rec); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(start))
		if rec.ID != created.AggregateID {
			return 0, 0, fmt.Errorf("read %q, wrote %q", rec.ID, created.AggregateID)
		}
	}
	return Percentile(lat, 50), Percentile(lat, 99), nil
}
