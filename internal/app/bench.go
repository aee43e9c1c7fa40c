package app

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/bench"
	"github.com/jetflow/jetflow/internal/natsserver"
)

func newBenchCmd(d *Domain) *cobra.Command {
	var (
		asJSON     bool
		cpuProfile string
		scenarios  []string
		syncs      []string
		opts       bench.Options
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure jetflow against raw JetStream on an embedded server",
		Long: "Runs each scenario on its own embedded NATS server (file storage, temp dir) and prints\n" +
			"jetflow's rate, the raw JetStream rate measured the same way in the same run, and the ratio.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dom, err := d.benchDomain()
			if err != nil {
				return err
			}
			opts.Domain = dom
			if opts.Syncs, err = parseSyncs(syncs); err != nil {
				return err
			}
			if opts.Replicas != 1 && opts.Replicas != 3 {
				return &flagValueError{Flag: "replicas", Want: "1 (one server) or 3 (a 3-node cluster)", Got: strconv.Itoa(opts.Replicas)}
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			out := cmd.OutOrStdout()
			if !asJSON {
				where := "one embedded server"
				if opts.Replicas == 3 {
					where = "a 3-node cluster in this process (R3 streams)"
				}
				fmt.Fprintf(out, "# jetflow bench: %s, nats-server %s, %d CPUs, file storage on %s, %s per measurement\n",
					runtime.Version(), server.VERSION, runtime.NumCPU(), where, opts.Duration)
				if len(scenarios) == 0 {
					switch _, reads := dom.(bench.ReadDomain); {
					case dom == nil:
						fmt.Fprintln(out, "# no bench workload in this binary (App.Bench): the command, load-snapshot, projection and query scenarios are left out (the jetflow binary runs them on the users example)")
					case !reads:
						fmt.Fprintln(out, "# the bench workload names no read model: the projection and query scenarios are left out")
					}
				}
			}
			err = bench.Run(cmd.Context(), scenarios, opts, func(r bench.Result) {
				if asJSON {
					_ = bench.WriteJSON(out, r)
				} else {
					_ = bench.WriteText(out, r)
				}
			})
			switch {
			case errors.Is(err, bench.ErrNoReadDomain):
				return fmt.Errorf("%w; name a read model in the workload (BenchWorkload.ReadModel)", err)
			case errors.Is(err, bench.ErrNoDomain):
				return fmt.Errorf("%w; register a workload with App.Bench", err)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print results as JSON lines")
	cmd.Flags().StringSliceVar(&scenarios, "scenario", nil, "run only these scenarios (repeatable or comma separated)")
	cmd.Flags().DurationVar(&opts.Duration, "duration", 3*time.Second, "length of each timed measurement")
	cmd.Flags().IntVar(&opts.Count, "count", 0, "size of count-based scenarios (0 = each scenario's default)")
	cmd.Flags().StringSliceVar(&syncs, "sync-interval", nil, "run each scenario once per fsync policy of its server (server.sync_interval), "+
		`one after the other: "default" (every 2m), "always" (before every acknowledgement) or a duration; e.g. default,always`)
	cmd.Flags().IntVar(&opts.Replicas, "replicas", 1, "1: each scenario on one embedded server; 3: the event store's scenarios "+
		"(append…, load, command…) on a fresh 3-node cluster each, their streams with 3 replicas")
	atLeastDuration(cmd.Flags(), "duration", time.Nanosecond)
	atLeast(cmd.Flags(), "count", 0)
	return cmd
}

// parseSyncs reads --sync-interval: "default" is the server's own policy.
func parseSyncs(values []string) ([]natsserver.Sync, error) {
	var out []natsserver.Sync
	for _, v := range values {
		if v == "default" {
			v = ""
		}
		s, err := natsserver.ParseSync(v)
		if err != nil {
			return nil, fmt.Errorf("--sync-interval: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}
