package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/projections"
)

// Kind is a kind of fault.
type Kind string

// The fault kinds.
const (
	// KindLeader stops the node leading the event stream, then the one
	// leading a KV bucket (snapshots, the read model), then the one
	// leading the projection's consumer, and starts each again.
	KindLeader Kind = "leader"
	// KindCrash SIGKILLs one of the two serve processes (and every other
	// time the worker) while they run commands and project, and starts it
	// again.
	KindCrash Kind = "crash"
	// KindPartition cuts one node off from the other nodes and from its
	// clients (the stream's leader every other time), then heals it.
	KindPartition Kind = "partition"
	// KindEmbedded SIGKILLs a single serve whose embedded server holds the
	// store, and starts it again on the same store directory.
	KindEmbedded Kind = "embedded"
)

// Kinds lists every fault kind, in the order a run takes them.
func Kinds() []Kind { return []Kind{KindLeader, KindCrash, KindPartition, KindEmbedded} }

func (k Kind) clustered() bool { return k != KindEmbedded }

// ErrInvalidConfig matches a Config that Validate refuses.
var ErrInvalidConfig = errors.New("chaos: invalid configuration")

// Config describes a chaos run.
type Config struct {
	// Binary is the jetflow binary whose serve and worker subcommands run
	// as subprocesses (the one running `jetflow chaos` itself, in the CLI).
	Binary string
	// Dir holds the servers' stores and every log.
	Dir string
	// Kinds are the fault kinds to inject, each Runs times.
	Kinds []Kind
	Runs  int
	// Duration is how long faults are injected in one run of one kind.
	Duration time.Duration
	// MinEvery and MaxEvery bound the random pause before each fault.
	MinEvery, MaxEvery time.Duration
	// Down is how long a stopped node, a killed process or a partition
	// stays so.
	Down time.Duration
	// Clients send commands, each on its own connection; Racers send pairs
	// of conflicting commands.
	Clients, Racers int
	// Rate bounds the commands sent per second by all clients and racers
	// together (0: as fast as they are answered); TopicRate is the topic
	// messages published per second.
	Rate, TopicRate int
	// Sync is every server's fsync policy.
	Sync natsserver.Sync
	// Seed makes the fault schedule and the clients' choices repeatable.
	Seed uint64
	// ReadModel is the projection whose read model is compared with a
	// fresh replay: the users example's, for the commands the workload
	// sends.
	ReadModel projections.Projection
	// Logger receives progress; the servers' logs go to Dir.
	Logger *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.Binary == "" {
		bad("the jetflow binary to run serve and worker from is required")
	}
	if c.Dir == "" {
		bad("a directory for stores and logs is required")
	}
	if len(c.Kinds) == 0 {
		bad("no fault kind")
	}
	for _, k := range c.Kinds {
		if !slices.Contains(Kinds(), k) {
			bad("unknown fault kind %q (known: %v)", k, Kinds())
		}
	}
	if c.Runs < 1 {
		bad("runs must be at least 1")
	}
	if c.Duration <= 0 || c.MinEvery <= 0 || c.MaxEvery < c.MinEvery || c.Down <= 0 {
		bad("duration, down and the pause between faults must be positive, the pause's maximum at least its minimum")
	}
	if c.Clients < 1 || c.Racers < 0 || c.Rate < 0 || c.TopicRate < 0 {
		bad("at least one client; racers and rates must not be negative")
	}
	if c.ReadModel.Name == "" || len(c.ReadModel.Subjects) == 0 || c.ReadModel.Handler == nil {
		bad("the read model's projection is required")
	}
	return errors.Join(errs...)
}

// Run runs every kind Runs times and hands each phase's report to report
// as it is done. It stops everything it started before it returns, also
// when ctx ends.
func Run(ctx context.Context, cfg Config, report func(Report)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &harness{cfg: cfg, log: cfg.Logger, rng: mrand.New(mrand.NewPCG(cfg.Seed, 1))}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "logs"), 0o750); err != nil {
		return err
	}
	var clustered, embedded []Kind
	for _, k := range cfg.Kinds {
		if k.clustered() {
			clustered = append(clustered, k)
		} else {
			embedded = append(embedded, k)
		}
	}
	if len(clustered) > 0 {
		if err := h.clusterRuns(ctx, clustered, report); err != nil {
			return err
		}
	}
	for run := 1; run <= cfg.Runs && len(embedded) > 0; run++ {
		if err := h.embeddedRun(ctx, run, report); err != nil {
			return err
		}
	}
	return nil
}

type harness struct {
	cfg   Config
	log   *slog.Logger
	rng   *mrand.Rand
	phase int
}

// target is what a phase runs against: the cluster with two serves and a
// worker, or one serve with its embedded server and a worker.
type target interface {
	// clientURL is what client i connects to.
	clientURL(i int) string
	// inject causes the n-th fault of kind and recovers from it; it
	// returns what it did.
	inject(ctx context.Context, kind Kind, n int) (string, error)
	// recover ends every fault and waits until everything runs again.
	recover(ctx context.Context) error
	admin() *nats.Conn
	replicas() int
	webhook() *Webhook
	serves() []*Process
}

// clusterRuns runs the clustered kinds on one cluster, one phase after
// the other: starting a cluster and its processes is the slow part.
func (h *harness) clusterRuns(ctx context.Context, kinds []Kind, report func(Report)) error {
	t, err := startClusterTarget(ctx, h)
	if err != nil {
		return err
	}
	defer t.close()
	for run := 1; run <= h.cfg.Runs; run++ {
		for _, k := range kinds {
			r, err := h.runPhase(ctx, t, k, run)
			if err != nil {
				return err
			}
			report(r)
		}
	}
	return nil
}

func (h *harness) embeddedRun(ctx context.Context, run int, report func(Report)) error {
	t, err := startEmbeddedTarget(ctx, h, run)
	if err != nil {
		return err
	}
	defer t.close()
	r, err := h.runPhase(ctx, t, KindEmbedded, run)
	if err != nil {
		return err
	}
	report(r)
	return nil
}

// runPhase runs the workload while injecting faults of kind for the
// configured duration, ends the faults, settles what stayed unknown and
// verifies.
func (h *harness) runPhase(ctx context.Context, t target, kind Kind, run int) (Report, error) {
	h.phase++
	id := fmt.Sprintf("%s%d-%s", kind[:1], h.phase, randomHex(3))
	r := Report{Kind: kind, Run: run, Sync: h.cfg.Sync.String(), Logs: filepath.Join(h.cfg.Dir, "logs")}
	// Everything runs before the faults do: a serve stopped to show its
	// goroutines in the last verification starts again here.
	if err := t.recover(ctx); err != nil {
		return r, fmt.Errorf("chaos: %s run %d: start: %w", kind, run, err)
	}
	hist := newHistory()
	conns, closeConns, err := h.connect(t, h.cfg.Clients+2*h.cfg.Racers+1)
	if err != nil {
		return r, err
	}
	defer closeConns()
	wctx, stopLimit := context.WithCancel(ctx)
	defer stopLimit()
	w := &workload{
		run: id, hist: hist, conns: conns[1:], pubConn: conns[0], clients: h.cfg.Clients, racers: h.cfg.Racers,
		limit: rateLimit(wctx, h.cfg.Rate), topicHz: h.cfg.TopicRate, log: h.log, stop: make(chan struct{}),
	}
	h.log.Info("chaos: phase started", "kind", kind, "run", run, "phase", id, "duration", h.cfg.Duration)
	start := time.Now()
	w.start(wctx, h.rng.Uint64())
	deadline := start.Add(h.cfg.Duration)
	for n := 0; ; n++ {
		pause := h.cfg.MinEvery + time.Duration(h.rng.Int64N(int64(h.cfg.MaxEvery-h.cfg.MinEvery)+1))
		if time.Until(deadline) < pause {
			sleep(ctx, time.Until(deadline))
			break
		}
		sleep(ctx, pause)
		if ctx.Err() != nil {
			break
		}
		what, err := t.inject(ctx, kind, n)
		if err != nil {
			r.problem("fault %d: %v", n+1, err)
			h.log.Warn("chaos: fault", "kind", kind, "n", n+1, "error", err)
		}
		if what != "" {
			r.Faults++
			r.FaultLog = append(r.FaultLog, fmt.Sprintf("%s %s", time.Since(start).Round(time.Second), what))
			h.log.Info("chaos: fault", "kind", kind, "n", n+1, "what", what)
		}
	}
	if err := t.recover(ctx); err != nil {
		w.Stop()
		return r, fmt.Errorf("chaos: %s run %d: recover after the faults: %w", kind, run, err)
	}
	end := time.Now()
	w.Stop()
	r.Elapsed = end.Sub(start)
	r.LongestOutage = hist.longestOutage(start, end)
	if err := ctx.Err(); err != nil {
		return r, err
	}
	h.log.Info("chaos: faults over; settling and verifying", "kind", kind, "run", run, "commands", len(hist.Commands()))
	h.settle(ctx, conns[0], hist)
	r.FailedAttempts = hist.attempts
	if err := h.verify(ctx, t, id, hist, &r); err != nil {
		return r, fmt.Errorf("chaos: %s run %d: verify: %w", kind, run, err)
	}
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// connect opens n client connections, spread over the nodes. Clients ping
// every second, so a connection behind a partition is given up within
// seconds and the client reconnects to another node, as a client
// configured for failover does.
func (h *harness) connect(t target, n int) ([]*nats.Conn, func(), error) {
	conns := make([]*nats.Conn, 0, n)
	closeAll := func() {
		for _, nc := range conns {
			nc.Close()
		}
	}
	for i := range n {
		nc, err := nats.Connect(t.clientURL(i), nats.Name(fmt.Sprintf("jetflow-chaos-client-%d", i)), nats.DontRandomize(),
			nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.PingInterval(time.Second),
			nats.MaxPingsOutstanding(3), nats.Timeout(2*time.Second), nats.RetryOnFailedConnect(true))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("chaos: connect client %d: %w", i, err)
		}
		conns = append(conns, nc)
	}
	return conns, closeAll, nil
}

// settle sends every command whose outcome stayed unknown again, with
// its command id, and republishes every unknown topic message with its
// message id, now that the faults are over: what they get back says what
// became of them.
func (h *harness) settle(ctx context.Context, nc *nats.Conn, hist *History) {
	c := client.New(nc)
	never := func() bool { return false }
	for _, cmd := range hist.Commands() {
		if cmd.Outcome != Unknown {
			continue
		}
		for i := 0; i < maxAttempts && ctx.Err() == nil; i++ {
			outcome, reply, status, msg, _ := attempt(ctx, c, cmd)
			cmd.Settled, cmd.SettleReply, cmd.SettleMsg = outcome, reply, msg
			if outcome != Unknown {
				if outcome == Refused {
					cmd.SettleMsg = fmt.Sprintf("%d %s", status, msg)
				}
				break
			}
			sleep(ctx, 500*time.Millisecond)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return
	}
	pub := consumers.NewPublisher(js)
	for _, p := range hist.Publishes() {
		if p.Outcome == Unknown {
			p.Settled, p.StoredBefore = publishOnce(ctx, pub, p, never)
		}
	}
}

// verify fills r from what the servers hold.
func (h *harness) verify(ctx context.Context, t target, id string, hist *History, r *Report) error {
	ck, err := newChecker(t.admin(), t.replicas(), h.cfg.ReadModel, h.log)
	if err != nil {
		return err
	}
	ck.onStall = func() {
		for _, p := range t.serves() {
			h.log.Warn("chaos: read model behind; dumping the goroutines of "+p.Name+" to its log", "log", p.log)
			p.DumpStacks()
		}
	}
	all, err := ck.events(ctx)
	if err != nil {
		return err
	}
	ck.checkCommands(ctx, id, hist, all, r)
	// The topic before the read model: a read model found stuck has its
	// serves dump their goroutines, which stops them (and an embedded
	// server with them).
	h.checkTopic(ctx, t.webhook(), hist, r)
	return ck.checkReadModel(ctx, id, all, r)
}

// checkTopic waits until the worker has delivered every message that was
// stored, and counts what it never delivered and what it delivered again.
func (h *harness) checkTopic(ctx context.Context, hook *Webhook, hist *History, r *Report) {
	var stored []*Publish
	pubs := hist.Publishes()
	for _, p := range pubs {
		switch {
		case p.Outcome == Acked:
			r.Published++
			stored = append(stored, p)
		case p.Outcome == Unknown:
			r.TopicUnknown++
			if p.StoredBefore {
				r.TopicUnknownStored++
			}
			if p.Settled == Acked {
				stored = append(stored, p)
			}
		}
	}
	deadline := time.Now().Add(verifyWait)
	for {
		missing := 0
		for _, p := range stored {
			if hook.Deliveries(p.ID) == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		sleep(ctx, 200*time.Millisecond)
	}
	for _, p := range stored {
		if hook.Deliveries(p.ID) == 0 {
			r.TopicLost++
			r.problem("topic message %s stored (%s) but never delivered to the webhook", p.ID, p.Outcome)
		}
	}
	for _, p := range pubs {
		r.Redelivered += max(0, hook.Deliveries(p.ID)-1)
	}
}

// freeAddr is a loopback address nothing listens on right now; the
// subprocess that is given it listens there again after each restart.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// childEnv is the environment of the subprocesses: this one's without
// JETFLOW_* settings (they run from flags alone), and no configuration
// file (they run in Dir, where there is none).
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JETFLOW_") {
			env = append(env, kv)
		}
	}
	return append(append(env, "JETFLOW_CONFIG="), extra...)
}

// serverLogger writes the servers' warnings and errors to a log file.
func serverLogger(dir string) (*slog.Logger, func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "logs", "nats.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, err
	}
	return slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelWarn})), func() { f.Close() }, nil
}
