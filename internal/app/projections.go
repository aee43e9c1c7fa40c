package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/projections"
)

// projFlags are shared by the projections subcommands: the connection, and
// the configuration that names streams, buckets and replicas exactly as
// `jetflow serve` reads them.
type projFlags struct {
	cf clientFlags
	l  *loader
}

func (f *projFlags) register(cmd *cobra.Command, l *loader) {
	f.l = l
	f.cf.register(cmd)
}

// open loads the configuration, connects and returns the admin operations.
func (f *projFlags) open(cmd *cobra.Command) (*projections.Admin, config.Config, func(), error) {
	cfg, err := f.cf.load(cmd, f.l)
	if err != nil {
		return nil, cfg, nil, err
	}
	nc, err := f.cf.connect(cfg)
	if err != nil {
		return nil, cfg, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), f.cf.timeout)
	defer cancel()
	admin, err := projections.NewAdmin(ctx, nc, projectionsConfig(cfg))
	if err != nil {
		nc.Close()
		return nil, cfg, nil, err
	}
	return admin, cfg, nc.Close, nil
}

func newProjectionsCmd(l *loader) *cobra.Command {
	d := l.domain
	cmd := &cobra.Command{
		Use:   "projections",
		Short: "Show, rebuild, skip and resume projections (read models)",
		Long: "Works directly against JetStream (consumers, buckets and the jetflow_projections meta bucket);\n" +
			"a running `jetflow serve` picks skip, resume and a rebuild's switch up from the meta bucket.",
	}
	cmd.AddCommand(newProjectionsStatusCmd(d, l), newProjectionsRebuildCmd(d, l), newProjectionsSkipCmd(d, l), newProjectionsResumeCmd(d, l))
	return cmd
}

func newProjectionsStatusCmd(d *Domain, l *loader) *cobra.Command {
	var (
		f      projFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status [name]",
		Short: "List projections: bucket, last applied sequence, lag, state",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			admin, cfg, closeFn, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			ctx, cancel := context.WithTimeout(cmd.Context(), f.cf.timeout)
			defer cancel()
			names := args
			if len(names) == 0 {
				// Those this binary runs (even before their first run) and
				// any other the meta bucket knows.
				for _, p := range readModels(cfg, d) {
					if _, err := admin.Ensure(ctx, p); err != nil {
						return err
					}
				}
				if names, err = admin.Names(ctx); err != nil {
					return err
				}
			}
			reports := make([]projections.Report, 0, len(names))
			for _, n := range names {
				r, err := admin.Report(ctx, n)
				if err != nil {
					return withKnownProjections(ctx, err, admin, readModels(cfg, d))
				}
				reports = append(reports, r)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, r := range reports {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
				return nil
			}
			return writeProjectionReports(cmd.OutOrStdout(), reports, time.Now())
		},
	}
	f.register(cmd, l)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON report per line")
	return cmd
}

// writeProjectionReports prints one line per generation (the active one
// and a rebuild in progress), then the failures in full and the retired
// generations still waiting for removal.
func writeProjectionReports(w io.Writer, reports []projections.Report, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tGEN\tBUCKET\tSTATE\tLAST SEQ\tLAG\tRATE\tUPDATED")
	var notices []string
	line := func(name string, g projections.GenerationReport, role string) {
		state, rate, updated := "not started", "-", "-"
		if s := g.Status; s != nil {
			state, rate, updated = string(s.State), fmt.Sprintf("%.0f/s", s.Rate), now.Sub(s.UpdatedAt).Round(time.Second).String()+" ago"
			if s.State == projections.StateFailed && s.Failure != nil {
				notices = append(notices, fmt.Sprintf("%s (generation %d) failed at event %d (%s, %s): %s\n  fix the cause and `jetflow projections resume %s`, or `jetflow projections skip %s %d`",
					name, g.Number, s.Failure.Sequence, s.Failure.Type, s.Failure.Subject, s.Failure.Error, name, name, s.Failure.Sequence))
			}
			if s.State == projections.StateRetrying && s.Error != "" {
				notices = append(notices, fmt.Sprintf("%s (generation %d) retrying: %s", name, g.Number, s.Error))
			}
		}
		if s := g.Status; s != nil && g.LeaseHolder == "" && s.State != projections.StateStopped {
			// The last report of a process that is gone.
			state += ", no runner"
		}
		if role != "" {
			state += " (" + role + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%s\t%s\n", name, g.Number, g.Bucket, state, g.AckFloor, g.Pending, rate, updated)
	}
	for _, r := range reports {
		line(r.Meta.Name, r.Active, "")
		if r.Rebuild != nil {
			line(r.Meta.Name, *r.Rebuild, "rebuild")
		}
		for _, g := range r.Meta.Retired {
			notices = append(notices, fmt.Sprintf("%s generation %d (bucket %s, consumer %s) is retired but not removed yet; the runner of generation %d removes it once no process runs it",
				r.Meta.Name, g.Number, g.Bucket, g.Consumer, r.Active.Number))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notices {
		fmt.Fprintln(w, n)
	}
	return nil
}

func newProjectionsRebuildCmd(d *Domain, l *loader) *cobra.Command {
	var (
		f       projFlags
		noBar   bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rebuild <name>",
		Short: "Rebuild a read model into a fresh bucket from sequence 1, then switch queries to it",
		Long: "The live read model keeps serving (and `jetflow serve` keeps it current) while the new\n" +
			"generation is built; the switch is one compare-and-set in the meta bucket, after which the\n" +
			"runner and the query service move to the new bucket and the old one is removed.\n" +
			"Interrupted (Ctrl-C), it resumes where it stopped when run again.",
		Example: "  jetflow projections rebuild users",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			admin, cfg, closeFn, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			p, err := readModel(cfg, d, args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			show := newRebuildProgress(cmd.ErrOrStderr(), !noBar)
			meta, err := admin.Rebuild(ctx, p, show.report)
			show.finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: generation %d active, bucket %s\n", p.Name, meta.Active.Number, meta.Active.Bucket)
			return nil
		},
	}
	f.register(cmd, l)
	cmd.Flags().BoolVar(&noBar, "no-progress", false, "print progress lines instead of a progress bar")
	cmd.Flags().DurationVar(&timeout, "max-duration", 0, "stop the rebuild after this long (it resumes when run again); 0: no limit")
	atLeastDuration(cmd.Flags(), "max-duration", 0)
	return cmd
}

// rebuildProgress shows a rebuild's progress: a bar (events done / total,
// events/s, ETA) on a terminal, a line per phase otherwise.
type rebuildProgress struct {
	w      io.Writer
	useBar bool
	bar    *progressbar.ProgressBar
	phase  string
}

func newRebuildProgress(w io.Writer, useBar bool) *rebuildProgress {
	return &rebuildProgress{w: w, useBar: useBar}
}

func (r *rebuildProgress) report(pr projections.Progress) {
	if pr.Phase != r.phase {
		if r.bar != nil {
			_ = r.bar.Finish()
			r.bar = nil
			fmt.Fprintln(r.w)
		}
		r.phase = pr.Phase
		switch pr.Phase {
		case "building":
			verb := "building"
			if pr.Resumed {
				verb = "resuming"
			}
			fmt.Fprintf(r.w, "%s %s generation %d\n", verb, pr.Projection, pr.Generation)
		default:
			fmt.Fprintf(r.w, "%s\n", pr.Phase)
		}
	}
	if pr.Phase != "building" || !r.useBar || pr.Total == 0 {
		return
	}
	if r.bar == nil {
		r.bar = progressbar.NewOptions64(int64(max(pr.Total, 1)),
			progressbar.OptionSetWriter(r.w),
			progressbar.OptionSetDescription("events"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}
	r.bar.ChangeMax64(int64(max(pr.Total, pr.Done, 1)))
	_ = r.bar.Set64(int64(pr.Done))
}

func (r *rebuildProgress) finish() {
	if r.bar != nil {
		_ = r.bar.Finish()
		fmt.Fprintln(r.w)
	}
}

func newProjectionsSkipCmd(d *Domain, l *loader) *cobra.Command {
	var f projFlags
	cmd := &cobra.Command{
		Use:     "skip <name> <sequence>",
		Short:   "Skip the event a projection failed at (it is acked without being applied)",
		Example: "  jetflow projections status\n  jetflow projections skip users 1234",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil || seq == 0 {
				return fmt.Errorf("sequence %q: want a stream sequence (1, 2, ...)", args[1])
			}
			admin, cfg, closeFn, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			ctx, cancel := context.WithTimeout(cmd.Context(), f.cf.timeout)
			defer cancel()
			if _, err := admin.Skip(ctx, args[0], seq); err != nil {
				if errors.Is(err, projections.ErrSkipRefused) {
					cmd.SilenceUsage = true
					return fmt.Errorf("%w\n(nothing was changed; `jetflow projections status %s` shows where it stands)", err, args[0])
				}
				return withKnownProjections(ctx, err, admin, readModels(cfg, d))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: event %d will be skipped\n", args[0], seq)
			return nil
		},
	}
	f.register(cmd, l)
	return cmd
}

func newProjectionsResumeCmd(d *Domain, l *loader) *cobra.Command {
	var f projFlags
	cmd := &cobra.Command{
		Use:   "resume <name>",
		Short: "Retry the event a failed projection stopped at (after fixing the cause)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			admin, cfg, closeFn, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			ctx, cancel := context.WithTimeout(cmd.Context(), f.cf.timeout)
			defer cancel()
			if _, err := admin.Resume(ctx, args[0]); err != nil {
				return withKnownProjections(ctx, err, admin, readModels(cfg, d))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: resume requested\n", args[0])
			return nil
		},
	}
	f.register(cmd, l)
	return cmd
}

// withKnownProjections adds to an unknown-projection error the names that
// are known: those this binary registers and those the meta bucket holds.
func withKnownProjections(ctx context.Context, err error, admin *projections.Admin, registered []projections.Projection) error {
	if !errors.Is(err, projections.ErrUnknownProjection) {
		return err
	}
	known := map[string]bool{}
	for _, p := range registered {
		known[p.Name] = true
	}
	if names, nerr := admin.Names(ctx); nerr == nil {
		for _, n := range names {
			known[n] = true
		}
	}
	if len(known) == 0 {
		return fmt.Errorf("%w; this deployment has no projection", err)
	}
	return fmt.Errorf("%w; known: %s", err, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
}
