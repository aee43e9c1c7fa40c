package app

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/chaos"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// ErrChaosFound is returned when a chaos run found a lost, duplicated or
// double-won write (or another violation its table names).
var ErrChaosFound = errors.New("chaos: violations found")

// errChaosDomain is returned by a binary that does not serve the users
// example, whose commands the workload sends.
var errChaosDomain = errors.New("jetflow chaos drives the users example (cmd.user.*, read model users), which this binary does not register")

// chaosFlags are `jetflow chaos`'s own; --sync-interval is a key flag
// (server.sync_interval), read as serve reads it.
type chaosFlags struct {
	kinds     []string
	runs      int
	duration  time.Duration
	every     time.Duration
	everyMax  time.Duration
	down      time.Duration
	clients   int
	racers    int
	rate      int
	topicRate int
	seed      uint64
	dir       string
	keep      bool
	asJSON    bool
	binary    string
}

func newChaosCmd(d *Domain) *cobra.Command {
	var f chaosFlags
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Inject faults (leader loss, SIGKILL, partitions) into a cluster running jetflow, and verify every write",
		Long: "Starts a 3-node JetStream cluster on 127.0.0.1 (in this process, each link through a TCP proxy of its own),\n" +
			"two `jetflow serve --replicas 3` and a `jetflow worker` from this binary as subprocesses, and drives the users\n" +
			"example through them: clients sending commands and retrying with the same Jetflow-Command-Id, racers sending\n" +
			"conflicting pairs, a publisher feeding the worker's topic. Meanwhile it injects one kind of fault at a time:\n" +
			"  leader     stop the node leading EVENTS, a KV bucket or the projection's consumer, then start it again\n" +
			"  crash      SIGKILL a serve (every other time the worker too), then start it again\n" +
			"  partition  cut a node off from the others and from its clients, then heal it\n" +
			"  embedded   SIGKILL a single serve with its embedded server, then start it on the same store dir\n" +
			"Then it resends what stayed unknown, verifies what the servers hold against what clients were told, and\n" +
			"prints a table: acknowledged commands lost, applied twice, races with two winners, version gaps, the read\n" +
			"model against a fresh replay, topic messages lost and redelivered, the longest outage, and the unknowns.\n" +
			"It exits non-zero when any run found a violation. SIGINT stops it and everything it started.",
		Example: "  jetflow chaos --duration 20s                         # each kind once, 20s of faults each\n" +
			"  jetflow chaos --fault leader --runs 4 --duration 2m\n" +
			"  jetflow chaos --fault embedded --sync-interval always",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runChaos(cmd, d, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.kinds, "fault", kindNames(chaos.Kinds()), "fault kinds to inject, each in its own run: leader, crash, partition, embedded")
	fl.IntVar(&f.runs, "runs", 1, "runs of each fault kind")
	fl.DurationVar(&f.duration, "duration", time.Minute, "how long faults are injected in one run")
	fl.DurationVar(&f.every, "every", 4*time.Second, "shortest pause before each fault")
	fl.DurationVar(&f.everyMax, "every-max", 10*time.Second, "longest pause before each fault (the pause is random in between)")
	fl.DurationVar(&f.down, "down", 3*time.Second, "how long a stopped node, a killed process or a partition lasts")
	fl.IntVar(&f.clients, "clients", 8, "clients sending commands, each on its own connection")
	fl.IntVar(&f.racers, "racers", 2, "racers sending pairs of conflicting commands")
	fl.IntVar(&f.rate, "rate", 300, "commands per second of all clients and racers together (0: as fast as answered)")
	fl.IntVar(&f.topicRate, "topic-rate", 50, "topic messages published per second (0: none)")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of the fault schedule and the clients' choices (0: a random one, printed)")
	fl.StringVar(&f.dir, "dir", "", "directory for the stores and logs (default: a temporary one, removed unless a run fails or --keep)")
	fl.BoolVar(&f.keep, "keep", false, "keep the directory of stores and logs")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON report per run instead of the table")
	fl.StringVar(&f.binary, "serve-binary", "", "run serve and worker from this jetflow binary (another build, or a program built on jetflow with the users example) instead of this one")
	keyFlags(fl, configFlag{"sync-interval", "server.sync_interval", `fsync of every server: "always" (before every acknowledgement), a duration, or empty for the default (2m)`})
	between(fl, "runs", 1, 1000)
	between(fl, "clients", 1, 1024)
	between(fl, "racers", 0, 256)
	atLeast(fl, "rate", 0)
	atLeast(fl, "topic-rate", 0)
	atLeastDuration(fl, "duration", time.Second)
	atLeastDuration(fl, "every", 100*time.Millisecond)
	atLeastDuration(fl, "every-max", 100*time.Millisecond)
	atLeastDuration(fl, "down", 100*time.Millisecond)
	return cmd
}

func kindNames(kinds []chaos.Kind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

func runChaos(cmd *cobra.Command, d *Domain, f *chaosFlags) error {
	// The key flags, read as every command reads them, on the defaults:
	// chaos reads no file, its servers are its own.
	settings := config.Default()
	for _, st := range flagSettings(cmd.Flags()) {
		if err := settings.Set(st.Key, st.Value); err != nil {
			return fmt.Errorf("%s: %w", st.Source, err)
		}
	}
	if err := settings.Validate(); err != nil {
		return err
	}
	sync, err := natsserver.ParseSync(settings.Server.SyncInterval)
	if err != nil {
		return fmt.Errorf("--sync-interval: %w", err)
	}
	bin := f.binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("chaos: the jetflow binary to run serve from: %w", err)
		}
	}
	kinds := make([]chaos.Kind, 0, len(f.kinds))
	for _, k := range f.kinds {
		if !slices.Contains(chaos.Kinds(), chaos.Kind(k)) {
			return fmt.Errorf("--fault %q: want leader, crash, partition or embedded", k)
		}
		kinds = append(kinds, chaos.Kind(k))
	}
	if f.everyMax < f.every {
		return fmt.Errorf("--every-max %s is shorter than --every %s", f.everyMax, f.every)
	}
	readModel, err := chaosReadModel(d)
	if err != nil {
		return err
	}
	seed := f.seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	dir, temporary := f.dir, f.dir == ""
	if temporary {
		if dir, err = os.MkdirTemp("", "jetflow-chaos-"); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	log, err := newLogger(cmd.ErrOrStderr(), "info", "text")
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "# jetflow chaos: %s, nats-server %s, %d CPUs, seed %d, sync %s, dir %s\n",
		runtime.Version(), server.VERSION, runtime.NumCPU(), seed, syncLabel(sync), dir)
	var reports []chaos.Report
	err = chaos.Run(cmd.Context(), chaos.Config{
		Binary: bin, Dir: dir, Kinds: kinds, Runs: f.runs, Duration: f.duration, MinEvery: f.every, MaxEvery: f.everyMax,
		Down: f.down, Clients: f.clients, Racers: f.racers, Rate: f.rate, TopicRate: f.topicRate, Sync: sync, Seed: seed,
		ReadModel: readModel, Logger: log,
	}, func(r chaos.Report) {
		reports = append(reports, r)
		if f.asJSON {
			_ = chaos.WriteJSON(out, r)
		}
	})
	if !f.asJSON && len(reports) > 0 {
		if werr := chaos.WriteTable(out, reports); werr != nil && err == nil {
			err = werr
		}
	}
	failed := 0
	for _, r := range reports {
		if !r.OK() {
			failed++
		}
	}
	if failed > 0 && err == nil {
		err = fmt.Errorf("%w in %d of %d runs; stores and logs in %s", ErrChaosFound, failed, len(reports), dir)
	}
	switch {
	case err == nil && temporary && !f.keep:
		_ = os.RemoveAll(dir)
	default:
		fmt.Fprintf(cmd.ErrOrStderr(), "# stores and logs kept in %s\n", dir)
	}
	return err
}

func syncLabel(s natsserver.Sync) string {
	if s.String() == "" {
		return "default (every 2m)"
	}
	return s.String()
}

// chaosReadModel is the users read model's projection, which the chaos
// workload's commands feed; a binary without the users example has none.
func chaosReadModel(d *Domain) (projections.Projection, error) {
	hasUser := slices.ContainsFunc(d.aggregates(), func(a Aggregate) bool { return a.Type == "user" })
	rm, ok := d.readModelNamed("users")
	if !hasUser || !ok {
		return projections.Projection{}, errChaosDomain
	}
	return rm.Projection(streams.DefaultConfig()), nil
}
