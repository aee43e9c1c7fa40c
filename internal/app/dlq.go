package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/consumers"
)

// dlqFlags are shared by the dlq subcommands: the processes and
// schedules commands' flags, and the dead-letter stream.
type dlqFlags struct {
	jsFlags
}

func (f *dlqFlags) register(cmd *cobra.Command, l *loader) {
	f.jsFlags.register(cmd, l)
	keyFlags(cmd.Flags(), configFlag{"dlq-stream", "dlq.stream", "dead-letter stream (default: dlq.stream of jetflow.tsk)"})
}

// open connects and returns the DLQ, ctx bounded by --timeout, and what
// to call when done.
func (f *dlqFlags) open(cmd *cobra.Command) (*consumers.DLQ, context.Context, func(), error) {
	js, cfg, ctx, done, err := f.jsFlags.open(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	return consumers.NewDLQ(js, consumers.DLQConfig{Stream: cfg.DLQ.Stream}), ctx, done, nil
}

func newDLQCmd(l *loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show, replay and discard dead letters",
		Long: "A dead letter is a message a subscription gave up on: a permanent error, its retries\n" +
			"spent, or never acknowledged. Its id is its sequence in the DLQ stream.",
	}
	cmd.AddCommand(newDLQListCmd(l), newDLQShowCmd(l), newDLQReplayCmd(l), newDLQDiscardCmd(l))
	return cmd
}

func newDLQListCmd(l *loader) *cobra.Command {
	var (
		f dlqFlags
		q consumers.ListOptions
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List dead letters, oldest first",
		Example: "  jetflow dlq list\n  jetflow dlq list --topic orders --subscription billing",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dlq, ctx, done, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer done()
			list, err := dlq.List(ctx, q)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if f.asJSON {
				return writeJSONLines(out, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(out, "no dead letters")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tSOURCE\tSUBSCRIPTION\tDELIVERIES\tSUBJECT\tREASON")
			for _, dl := range list {
				subject := "(original gone)"
				if dl.Original != nil {
					subject = dl.Original.Subject
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", dl.ID, dl.Time.Local().Format(time.DateTime), source(dl),
					dl.Subscription, dl.Deliveries, subject, oneLine(dl.Reason, 60))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if q.Limit > 0 && len(list) == q.Limit {
				fmt.Fprintf(cmd.ErrOrStderr(), "first %d shown; the next ones: --after %d\n", q.Limit, list[len(list)-1].ID)
			}
			return nil
		},
	}
	f.register(cmd, l)
	cmd.Flags().StringVar(&q.Topic, "topic", "", "only this topic's dead letters")
	cmd.Flags().StringVar(&q.Subscription, "subscription", "", "only this subscription's dead letters")
	cmd.Flags().IntVar(&q.Limit, "limit", 100, "at most this many (0: all)")
	atLeast(cmd.Flags(), "limit", 0)
	cmd.Flags().Uint64Var(&q.After, "after", 0, "start after this dead-letter id (the next page)")
	return cmd
}

func newDLQShowCmd(l *loader) *cobra.Command {
	var f dlqFlags
	cmd := &cobra.Command{
		Use:   "show <id>",
		Short: "Show one dead letter with its original message",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseDeadLetterID(args[0])
			if err != nil {
				return err
			}
			dlq, ctx, done, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer done()
			dl, err := dlq.Get(ctx, id)
			if err != nil {
				return err
			}
			if f.asJSON {
				return writeJSONLines(cmd.OutOrStdout(), []consumers.DeadLetter{dl})
			}
			return writeDeadLetter(cmd.OutOrStdout(), dl)
		},
	}
	f.register(cmd, l)
	return cmd
}

func newDLQReplayCmd(l *loader) *cobra.Command {
	var (
		f      dlqFlags
		q      consumers.ListOptions
		all    bool
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "replay <id> | --all",
		Short: "Republish dead letters to their topic, for their subscription only",
		Long: "Republishes the original message to its topic subject with Jetflow-Replayed-From set to the\n" +
			"dead letter's id, for the subscription that gave up on it (the topic's other subscriptions\n" +
			"skip it), and removes the dead letter. If it fails again it is dead-lettered again.\n" +
			"Messages of other streams (EVENTS) are never republished. --dry-run changes nothing.",
		Example: "  jetflow dlq replay 42\n  jetflow dlq replay --all --topic orders --limit 100 --dry-run",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return errors.New("give an id or --all, not both")
			case !all && len(args) != 1:
				return errors.New("give one dead-letter id, or --all")
			case !all && (q.Topic != "" || q.Subscription != "" || q.Limit != 0):
				return errors.New("--topic, --subscription and --limit go with --all")
			}
			dlq, ctx, done, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer done()
			out := cmd.OutOrStdout()
			if !all {
				id, err := parseDeadLetterID(args[0])
				if err != nil {
					return err
				}
				r, err := dlq.Replay(ctx, id, dryRun)
				if err != nil {
					return err
				}
				return printReplays(out, f.asJSON, []consumers.Replayed{r})
			}
			rs, err := dlq.ReplayAll(ctx, q, dryRun)
			if perr := printReplays(out, f.asJSON, rs); perr != nil {
				return perr
			}
			return err
		},
	}
	f.register(cmd, l)
	cmd.Flags().BoolVar(&all, "all", false, "replay every dead letter that matches --topic/--subscription")
	cmd.Flags().StringVar(&q.Topic, "topic", "", "with --all: only this topic")
	cmd.Flags().StringVar(&q.Subscription, "subscription", "", "with --all: only this subscription")
	cmd.Flags().IntVar(&q.Limit, "limit", 0, "with --all: at most this many (0: all)")
	atLeast(cmd.Flags(), "limit", 0)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be replayed and change nothing")
	return cmd
}

func newDLQDiscardCmd(l *loader) *cobra.Command {
	var f dlqFlags
	cmd := &cobra.Command{
		Use:   "discard <id>",
		Short: "Delete one dead letter for good",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseDeadLetterID(args[0])
			if err != nil {
				return err
			}
			dlq, ctx, done, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer done()
			if err := dlq.Discard(ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "discarded dead letter %d\n", id)
			return nil
		},
	}
	f.register(cmd, l)
	return cmd
}

func parseDeadLetterID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("dead-letter id %q: want a positive number (see jetflow dlq list)", s)
	}
	return id, nil
}

func source(dl consumers.DeadLetter) string {
	if dl.Topic != "" {
		return "topic " + dl.Topic
	}
	return "stream " + dl.Stream
}

func printReplays(w io.Writer, asJSON bool, rs []consumers.Replayed) error {
	if asJSON {
		return writeJSONLines(w, rs)
	}
	if len(rs) == 0 {
		fmt.Fprintln(w, "no dead letters to replay")
		return nil
	}
	replayed, skipped := 0, 0
	for _, r := range rs {
		switch {
		case r.Skipped != "":
			skipped++
			fmt.Fprintf(w, "skipped %d: %s\n", r.ID, r.Skipped)
		case r.DryRun:
			replayed++
			fmt.Fprintf(w, "would replay %d to %s for %s\n", r.ID, r.Subject, r.Subscription)
		case r.Duplicate:
			replayed++
			fmt.Fprintf(w, "replayed %d to %s for %s (already republished earlier: topic sequence %d)\n", r.ID, r.Subject, r.Subscription, r.Sequence)
		default:
			replayed++
			fmt.Fprintf(w, "replayed %d to %s for %s (topic sequence %d)\n", r.ID, r.Subject, r.Subscription, r.Sequence)
		}
	}
	verb := "replayed"
	if len(rs) > 0 && rs[0].DryRun {
		verb = "would replay"
	}
	fmt.Fprintf(w, "%s %d, skipped %d\n", verb, replayed, skipped)
	return nil
}

func writeDeadLetter(w io.Writer, dl consumers.DeadLetter) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%d\n", dl.ID)
	fmt.Fprintf(tw, "kind:\t%s\n", dl.Kind)
	fmt.Fprintf(tw, "source:\t%s (stream %s, sequence %d)\n", source(dl), dl.Stream, dl.StreamSeq)
	fmt.Fprintf(tw, "subscription:\t%s (consumer %s)\n", dl.Subscription, dl.Consumer)
	fmt.Fprintf(tw, "deliveries:\t%d\n", dl.Deliveries)
	fmt.Fprintf(tw, "time:\t%s\n", dl.Time.Format(time.RFC3339Nano))
	fmt.Fprintf(tw, "reason:\t%s\n", dl.Reason)
	if dl.Original == nil {
		fmt.Fprintf(tw, "original:\tNOT AVAILABLE: %s\n", dl.OriginalMissing)
		return tw.Flush()
	}
	o := dl.Original
	fmt.Fprintf(tw, "subject:\t%s\n", o.Subject)
	fmt.Fprintf(tw, "published:\t%s\n", o.Time.Format(time.RFC3339Nano))
	keys := make([]string, 0, len(o.Header))
	for k := range o.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "header:\t%s: %s\n", k, strings.Join(o.Header[k], ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(o.Events) > 0 {
		// An event-store commit: its events, not its encoding.
		fmt.Fprintf(w, "events (%d):\n", len(o.Events))
		for _, ev := range o.Events {
			fmt.Fprintf(w, "  %d %s %s %s\n", ev.Version, ev.Type, ev.ID, ev.Data)
		}
		return nil
	}
	if utf8.Valid(o.Data) {
		fmt.Fprintf(w, "payload (%d bytes):\n%s\n", len(o.Data), o.Data)
	} else {
		fmt.Fprintf(w, "payload (%d bytes, binary, shown as Go string):\n%q\n", len(o.Data), o.Data)
	}
	return nil
}

func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
