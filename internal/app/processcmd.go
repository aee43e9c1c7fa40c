package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/processes"
)

func newProcessesCmd(l *loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "processes",
		Short: "List process managers and show their instances",
		Long: "Reads the instance buckets (proc_<name>, or processes.<name>.bucket) directly; works\n" +
			"whether or not serve runs.",
	}
	cmd.AddCommand(newProcessesLsCmd(l), newProcessesShowCmd(l))
	return cmd
}

func newProcessesLsCmd(l *loader) *cobra.Command {
	var f jsFlags
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List process managers with their running and ended instances",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			js, cfg, ctx, done, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer done()
			// Those this binary registers, and any other bucket the server holds.
			type entry struct{ name, bucket string }
			var list []entry
			seen := map[string]bool{}
			for _, p := range l.domain.processes() {
				b := cfg.Process(p.Name).Bucket
				list, seen[b] = append(list, entry{p.Name, b}), true
			}
			buckets, err := processes.Buckets(ctx, js)
			if err != nil {
				return err
			}
			for _, b := range buckets {
				if !seen[b] {
					list = append(list, entry{strings.TrimPrefix(b, processes.BucketPrefix), b})
				}
			}
			slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.name, b.name) })
			var sums []processes.Summary
			for _, e := range list {
				s, err := processes.Summarize(ctx, js, e.name, e.bucket)
				if err != nil && !errors.Is(err, processes.ErrProcessNotFound) {
					return err
				}
				sums = append(sums, s)
			}
			if f.asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, s := range sums {
					if err := enc.Encode(s); err != nil {
						return err
					}
				}
				return nil
			}
			if len(sums) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no process managers")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tBUCKET\tRUNNING\tENDED\tREMOVED")
			for _, s := range sums {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", s.Process, s.Bucket, s.Running, s.Ended, s.Removed)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, l)
	return cmd
}

func newProcessesShowCmd(l *loader) *cobra.Command {
	var f jsFlags
	cmd := &cobra.Command{
		Use:     "show <name> <id>",
		Short:   "Show an instance: its state, pending deadlines, the messages it handled",
		Example: "  jetflow processes show payment o-1\n  jetflow processes show payment o-1 --json",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := processes.ValidateName(args[0]); err != nil {
				return err
			}
			js, cfg, ctx, done, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer done()
			rec, err := processes.Show(ctx, js, cfg.Process(args[0]).Bucket, args[1])
			if err != nil {
				return err
			}
			if f.asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(rec)
			}
			return writeRecord(cmd.OutOrStdout(), rec, time.Now())
		},
	}
	f.register(cmd, l)
	return cmd
}

// writeRecord prints an instance for a terminal.
func writeRecord(w io.Writer, r processes.Record, now time.Time) error {
	status := r.Status
	if r.Removed {
		status += " (removed; shown from its tombstone)"
	}
	fmt.Fprintf(w, "process:  %s\ninstance: %s\nstatus:   %s\nsteps:    %d\n", r.Process, r.ID, status, r.Steps)
	fmt.Fprintf(w, "started:  %s\nupdated:  %s\n", r.StartedAt.Format(time.RFC3339), r.UpdatedAt.Format(time.RFC3339))
	if r.EndedAt != nil {
		fmt.Fprintf(w, "ended:    %s\n", r.EndedAt.Format(time.RFC3339))
	}
	var state bytes.Buffer
	if err := json.Indent(&state, r.State, "  ", "  "); err != nil {
		state.Write(r.State)
	}
	fmt.Fprintf(w, "state:\n  %s\n", state.String())
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(r.Deadlines) > 0 {
		fmt.Fprintln(w, "\ndeadlines:")
		fmt.Fprintln(tw, "  NAME\tAT\tIN\tID")
		for _, d := range r.Deadlines {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d.Name, d.At.Format(time.RFC3339), d.At.Sub(now).Round(time.Second), d.ID)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(w, "\ndeadlines: none")
	}
	fmt.Fprintf(w, "\nhandled (last %d):\n", len(r.Handled))
	fmt.Fprintln(tw, "  STEP\tKIND\tTYPE\tSEQUENCE\tAT\tID")
	for _, h := range r.Handled {
		seq := "-"
		if h.Sequence > 0 {
			seq = fmt.Sprint(h.Sequence)
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", h.Step, h.Kind, h.Type, seq, h.At.Format(time.RFC3339), h.ID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Pending) > 0 {
		fmt.Fprintln(w, "\neffects not known done (done again on redelivery):")
		fmt.Fprintln(tw, "  KIND\tNAME\tID\tOF MESSAGE")
		for _, e := range r.Pending {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Kind, e.Name, e.ID, e.Message)
		}
		return tw.Flush()
	}
	return nil
}
