package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/streams"
)

// ErrUnknownScenario is returned for a scenario name that does not exist.
var ErrUnknownScenario = errors.New("bench: unknown scenario")

// Options size a run.
type Options struct {
	// Duration bounds each timed measurement (default 3s).
	Duration time.Duration
	// Count sizes count-based scenarios (events per aggregate, messages to
	// consume); 0 leaves each scenario's default.
	Count  int
	Logger *slog.Logger
	// Domain is the application the command scenarios drive.
	Domain Domain
	// Syncs are the fsync policies each scenario runs under, one after
	// the other on a fresh server each (none: the server's default).
	Syncs []natsserver.Sync
	// Replicas is 1 (one embedded server, the default) or 3: the
	// replicated scenarios run on a fresh 3-node cluster, their streams
	// and buckets with 3 replicas.
	Replicas int
}

// replicas is the replica count of the scenario's streams.
func (o Options) replicas() int { return max(o.Replicas, 1) }

// streamsConfig is the event store's layout with the run's replicas.
func (o Options) streamsConfig() streams.Config {
	cfg := streams.DefaultConfig()
	cfg.Replicas = o.replicas()
	return cfg
}

// Metric is one extra figure of a scenario, such as a latency percentile.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Result is what a scenario measured.
type Result struct {
	Scenario string  `json:"scenario"`
	Unit     string  `json:"unit"`
	Rate     float64 `json:"rate"`
	RawName  string  `json:"raw"`
	RawRate  float64 `json:"raw_rate"`
	// Ratio is Rate / RawRate, or for latency-only comparisons raw / jetflow.
	Ratio   float64  `json:"ratio"`
	Target  string   `json:"target,omitempty"`
	Metrics []Metric `json:"metrics,omitempty"`
	// Sync is the server's fsync policy when the run set one ("always",
	// or "default" beside it).
	Sync string `json:"sync,omitempty"`
	// Replicas is 3 when the run was on a 3-node cluster (else unset).
	Replicas int `json:"replicas,omitempty"`
}

// Scenario is one named measurement.
type Scenario struct {
	Name        string
	Description string
	Run         func(ctx context.Context, env *Env) (Result, error)
	// Replicated scenarios honour Options.Replicas (their streams get
	// that many replicas); the others measure a single server only.
	Replicated bool
}

// Env is what a scenario runs against: a fresh embedded server of its own.
type Env struct {
	Options
	Server *server.Server
	URL    string
	// Sync is the fsync policy of Server.
	Sync natsserver.Sync
}

// Connect opens a TCP client connection to the scenario's server.
func (e *Env) Connect(opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect(e.URL, opts...)
}

// JetStream connects and returns the connection's JetStream context; the
// caller closes the connection.
func (e *Env) JetStream() (*nats.Conn, jetstream.JetStream, error) {
	nc, err := e.Connect()
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// Run runs the named scenarios (all when names is empty), each on its own
// embedded server with file storage in a temporary directory.
func Run(ctx context.Context, names []string, opts Options, report func(Result)) error {
	if opts.Duration <= 0 {
		opts.Duration = 3 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	selected, err := Select(names)
	if err != nil {
		return err
	}
	syncs := opts.Syncs
	if len(syncs) == 0 {
		syncs = []natsserver.Sync{{}}
	}
	for _, sc := range selected {
		for _, sync := range syncs {
			if err := ctx.Err(); err != nil {
				return err
			}
			run := runOne
			if opts.replicas() > 1 {
				run = runOnCluster
			}
			res, err := run(ctx, sc, opts, sync)
			if len(names) == 0 && (errors.Is(err, ErrNoDomain) || errors.Is(err, ErrNoReadDomain) || errors.Is(err, ErrNotReplicated)) {
				// Asked for everything: run what this binary can.
				break
			}
			if err != nil {
				return fmt.Errorf("bench %s (sync %s): %w", sc.Name, syncName(sync), err)
			}
			res.Scenario = sc.Name
			if opts.replicas() > 1 {
				res.Replicas = opts.replicas()
			}
			if len(opts.Syncs) > 0 {
				res.Sync = syncName(sync)
			}
			report(res)
		}
	}
	return nil
}

// syncName names a policy in results: the server's default is "default".
func syncName(s natsserver.Sync) string {
	if s.String() == "" {
		return "default"
	}
	return s.String()
}

// Select returns the scenarios with the given names, in the order asked.
func Select(names []string) ([]Scenario, error) {
	all := Scenarios()
	if len(names) == 0 {
		return all, nil
	}
	out := make([]Scenario, 0, len(names))
	for _, n := range names {
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownScenario, n, scenarioNames(all))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func scenarioNames(all []Scenario) string {
	s := ""
	for i, sc := range all {
		if i > 0 {
			s += ", "
		}
		s += sc.Name
	}
	return s
}

func runOne(ctx context.Context, sc Scenario, opts Options, sync natsserver.Sync) (Result, error) {
	dir, err := os.MkdirTemp("", "jetflow-bench-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	srv, err := natsserver.Start(natsserver.Config{StoreDir: dir, Sync: sync})
	if err != nil {
		return Result{}, err
	}
	defer natsserver.Stop(srv)
	return sc.Run(ctx, &Env{Options: opts, Server: srv, URL: srv.ClientURL(), Sync: sync})
}

// Percentile returns the p-th percentile (0..100) of samples, sorting them.
func Percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	idx := int(float64(len(samples)-1) * p / 100)
	return samples[idx]
}

// Millis converts a duration to fractional milliseconds for reports.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
