package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
)

const (
	processDefaultCount = 50_000
	processType         = "benchorder"
	processEvent        = "benchorder.placed"
	// processRounds of each side, alternating; the best of each is reported.
	processRounds = 2
	// processConcurrency is the manager's messages in flight: each waits
	// on a KV write and a command's round trip.
	processConcurrency = 256
	// processResponders answer the command in parallel, each on a
	// connection of its own, as several command service instances would.
	processResponders = 4
	processRawBatch   = 1000
)

func processScenario() Scenario {
	return Scenario{
		Name: "process",
		Description: "a one-step process manager over an event backlog (event in, instance state written with compare-and-set, " +
			"one command out and answered), against a raw pull consumer with explicit acks on the same events",
		Run: runProcess,
	}
}

// benchPayment is the process's state: enough to be a real write.
type benchPayment struct {
	Order     string    `json:"order"`
	Requested time.Time `json:"requested"`
}

func benchProcess(name string) processes.Definition[benchPayment] {
	return processes.Definition[benchPayment]{
		Name:           name,
		AggregateTypes: []string{processType},
		FromStart:      true,
		On: []processes.On[benchPayment]{{Event: processEvent, Start: true,
			Handle: func(_ context.Context, p processes.Instance[benchPayment], _ streams.Event) (processes.Step[benchPayment], error) {
				return processes.Step[benchPayment]{
					State:    benchPayment{Order: p.ID, Requested: p.Now},
					Commands: []processes.Command{{Name: "benchpay.request", Body: json.RawMessage(`{"order":"` + p.ID + `"}`)}},
				}, nil
			}}},
	}
}

func runProcess(ctx context.Context, env *Env) (Result, error) {
	count := env.Count
	if count <= 0 {
		count = processDefaultCount
	}
	se, err := newStoreEnv(ctx, env)
	if err != nil {
		return Result{}, err
	}
	defer se.Close()
	if err := seedOrders(ctx, se, count); err != nil {
		return Result{}, fmt.Errorf("seed: %w", err)
	}
	// The command side answers at once: the scenario measures the
	// manager, not a command service (the command scenario does).
	var answered atomic.Int64
	for range processResponders {
		rc, err := env.Connect()
		if err != nil {
			return Result{}, err
		}
		defer rc.Close()
		if _, err := rc.QueueSubscribe("cmd.benchpay.request", "benchpay", func(m *nats.Msg) {
			answered.Add(1)
			_ = m.Respond([]byte(`{"aggregate_id":"p","version":1,"sequence":1}`))
		}); err != nil {
			return Result{}, err
		}
		if err := rc.Flush(); err != nil {
			return Result{}, err
		}
	}
	scfg := streams.DefaultConfig()
	var best [2]float64
	var conflicts int64
	for r := range processRounds {
		raw, err := rawPullConsume(ctx, env, scfg.EventStream, jetstream.ConsumerConfig{
			Durable:        fmt.Sprintf("raw%d", r),
			AckPolicy:      jetstream.AckExplicitPolicy,
			FilterSubjects: []string{scfg.SubjectPrefix + "." + processType + ".>"},
			MaxAckPending:  4 * processRawBatch,
		}, processRawBatch, count)
		if err != nil {
			return Result{}, fmt.Errorf("raw: %w", err)
		}
		jf, c, err := runManager(ctx, env, fmt.Sprintf("bench%d", r), count)
		if err != nil {
			return Result{}, fmt.Errorf("jetflow: %w", err)
		}
		best[0], best[1] = max(best[0], raw), max(best[1], jf)
		conflicts += c
	}
	kv, err := kvWrites(ctx, env, count)
	if err != nil {
		return Result{}, fmt.Errorf("kv: %w", err)
	}
	hand, err := handWritten(ctx, env, count, false)
	if err != nil {
		return Result{}, fmt.Errorf("hand-written: %w", err)
	}
	outbox, err := handWritten(ctx, env, count, true)
	if err != nil {
		return Result{}, fmt.Errorf("hand-written, outbox: %w", err)
	}
	if got := answered.Load(); got < int64((processRounds+2)*count) {
		return Result{}, fmt.Errorf("%d commands answered, want %d", got, (processRounds+2)*count)
	}
	return Result{
		Unit:    "events/s",
		Rate:    best[1],
		RawName: "pull consume, explicit ack",
		RawRate: best[0],
		Ratio:   ratio(best[1], best[0]),
		Target:  "≥ 0.30",
		Metrics: []Metric{
			{Name: "events per run", Value: float64(count), Unit: "events"},
			{Name: "state conflicts", Value: float64(conflicts), Unit: "writes"},
			// Each event costs one such write: the manager's ceiling here.
			{Name: fmt.Sprintf("KV compare-and-set writes alone, %d writers", processConcurrency), Value: kv, Unit: "writes/s"},
			// The least any process manager does per event, written by hand
			// on raw JetStream: what the manager's own cost is judged by.
			{Name: fmt.Sprintf("hand-written (pull, KV compare-and-set, request/reply, ack), %d at a time", processConcurrency), Value: hand, Unit: "events/s"},
			{Name: "jetflow / hand-written", Value: ratio(best[1], hand), Unit: "ratio"},
			// Another design, measured so it can be judged: the command
			// leaves after the ack, its answer awaited off the event's
			// path (an outbox in the record, resent after a crash).
			{Name: "hand-written, command sent after the ack (outbox design)", Value: outbox, Unit: "events/s"},
			{Name: "outbox design / pull consume", Value: ratio(outbox, best[0]), Unit: "ratio"},
		},
	}, nil
}

// seedOrders appends count order events, one per aggregate, with 64
// writers.
func seedOrders(ctx context.Context, se *storeEnv, count int) error {
	var next atomic.Int64
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(count) {
					return
				}
				_, err := se.store.Append(ctx, processType, fmt.Sprintf("o-%d", i), streams.Position{},
					streams.Event{Type: processEvent, Data: json.RawMessage(`{"amount":120}`)})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// benchCounter counts what the manager handled.
type benchCounter struct {
	handled, conflicts atomic.Int64
	done               chan struct{}
	want               int64
}

func (c *benchCounter) ProcessStarted(string) {}
func (c *benchCounter) ProcessHandled(string, string, time.Duration) {
	if c.handled.Add(1) == c.want {
		close(c.done)
	}
}
func (c *benchCounter) ProcessEnded(string)           {}
func (c *benchCounter) ProcessFailed(string)          {}
func (c *benchCounter) DeadlineFired(string)          {}
func (c *benchCounter) StateConflict(string)          { c.conflicts.Add(1) }
func (c *benchCounter) MessageSkipped(string, string) {}

// runManager runs a fresh manager name over the backlog until it handled
// count events, and returns its rate and state conflicts.
func runManager(ctx context.Context, env *Env, name string, count int) (float64, int64, error) {
	nc, err := env.Connect()
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	c := &benchCounter{done: make(chan struct{}), want: int64(count)}
	m, err := processes.New(nc, benchProcess(name), processes.Config{Concurrency: processConcurrency},
		processes.WithLogger(env.Logger), processes.WithMetrics(c))
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := m.Start(ctx); err != nil {
		return 0, 0, err
	}
	err = wait(ctx, c.done)
	rate := float64(count) / time.Since(start).Seconds()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if serr := m.Stop(sctx); err == nil && serr != nil {
		err = fmt.Errorf("stop: %w", serr)
	}
	if err != nil {
		return 0, 0, err
	}
	return rate, c.conflicts.Load(), nil
}

// kvWrites measures what one event costs the manager at least: a
// compare-and-set write of a new key in a KV bucket, with as many writers
// as the manager has messages in flight.
func kvWrites(ctx context.Context, env *Env, count int) (float64, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "benchkv", Storage: jetstream.FileStorage}); err != nil {
		return 0, err
	}
	body := []byte(`{"process":"bench","id":"o-0","status":"running","state":{"order":"o-0"},"steps":1}`)
	var next atomic.Int64
	errs := make(chan error, processConcurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for range processConcurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(count) {
					return
				}
				m := nats.NewMsg(fmt.Sprintf("$KV.benchkv.k-%d", i))
				m.Data = body
				m.Header.Set("Nats-Expected-Last-Subject-Sequence", "0")
				if _, err := js.PublishMsg(ctx, m); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(count) / time.Since(start).Seconds(), nil
}

// handWritten is the least a process manager does per event on raw
// JetStream, processConcurrency events at a time: a pull consumer hands
// each event to a pool of goroutines, which write a record for its
// aggregate with compare-and-set, send one request and ack. With outbox,
// the request leaves after the ack and its answer is awaited apart (the
// run ends when every event is acked and every command answered).
func handWritten(ctx context.Context, env *Env, count int, outbox bool) (float64, error) {
	nc, js, err := env.JetStream()
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	bucket := "benchhand"
	if outbox {
		bucket = "benchoutbox"
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Storage: jetstream.FileStorage}); err != nil {
		return 0, err
	}
	scfg := streams.DefaultConfig()
	cons, err := js.CreateOrUpdateConsumer(ctx, scfg.EventStream, jetstream.ConsumerConfig{
		Durable: bucket, AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: []string{scfg.SubjectPrefix + "." + processType + ".>"},
		MaxAckPending: 4 * processConcurrency,
	})
	if err != nil {
		return 0, err
	}
	msgs := make(chan jetstream.Msg, processConcurrency)
	// finished counts each event once it is acked and once its command is
	// answered: the run is done at 2*count.
	var finished atomic.Int64
	var failed atomic.Value
	done := make(chan struct{})
	finish := func() {
		if finished.Add(1) == 2*int64(count) {
			close(done)
		}
	}
	answers := nc.NewRespInbox()
	if outbox {
		sub, err := nc.Subscribe(answers, func(*nats.Msg) { finish() })
		if err != nil {
			return 0, err
		}
		defer sub.Unsubscribe() //nolint:errcheck // the connection closes next
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return 0, err
		}
	}
	var wg sync.WaitGroup
	for range processConcurrency {
		wg.Go(func() {
			for m := range msgs {
				id := m.Subject()[len(scfg.SubjectPrefix)+len(processType)+2:]
				w := nats.NewMsg("$KV." + bucket + "." + id)
				w.Data = []byte(`{"order":"` + id + `","status":"running","outbox":[{"command":"benchpay.request"}]}`)
				w.Header.Set("Nats-Expected-Last-Subject-Sequence", "0")
				command := []byte(`{"order":"` + id + `"}`)
				if _, err := js.PublishMsg(ctx, w); err != nil {
					failed.Store(err)
				} else if outbox {
					_ = m.Ack()
					finish()
					if err := nc.PublishRequest("cmd.benchpay.request", answers, command); err != nil {
						failed.Store(err)
						finish() // no answer will come
					}
					continue
				} else if _, err := nc.RequestWithContext(ctx, "cmd.benchpay.request", command); err != nil {
					failed.Store(err)
				}
				_ = m.Ack()
				finish()
				finish()
			}
		})
	}
	start := time.Now()
	cc, err := cons.Consume(func(m jetstream.Msg) { msgs <- m }, jetstream.PullMaxMessages(4*processConcurrency))
	if err != nil {
		close(msgs)
		wg.Wait()
		return 0, err
	}
	err = wait(ctx, done)
	rate := float64(count) / time.Since(start).Seconds()
	cc.Stop()
	<-cc.Closed()
	close(msgs)
	wg.Wait()
	if err != nil {
		return 0, err
	}
	if e, ok := failed.Load().(error); ok {
		return 0, e
	}
	return rate, nil
}
