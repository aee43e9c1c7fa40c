package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/processes"
)

func newSchedulesCmd(l *loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "List and cancel scheduled topic messages (and process deadlines)",
		Long: "A message published with --at or --in waits in its topic's stream until its time;\n" +
			"process managers' deadlines are such messages on their deadline topic.",
	}
	cmd.AddCommand(newSchedulesLsCmd(l), newSchedulesCancelCmd(l))
	return cmd
}

// scheduledLine is one scheduled message as `schedules ls --json` prints it.
type scheduledLine struct {
	Topic    string    `json:"topic"`
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Priority string    `json:"priority"`
	Key      string    `json:"key,omitempty"`
	Sequence uint64    `json:"sequence"`
	Bytes    int       `json:"bytes"`
	// Deadline, Process and Instance describe a process deadline.
	Deadline string `json:"deadline,omitempty"`
	Process  string `json:"process,omitempty"`
	Instance string `json:"instance,omitempty"`
}

func newSchedulesLsCmd(l *loader) *cobra.Command {
	var (
		f     jsFlags
		topic string
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List pending scheduled messages, soonest first",
		Example: "  jetflow schedules ls\n  jetflow schedules ls --topic orders --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			js, _, ctx, done, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer done()
			topics := []string{topic}
			if topic == "" {
				topics = nil
				names := js.StreamNames(ctx)
				for name := range names.Name() {
					if t := consumers.TopicOfStream(name); t != "" {
						topics = append(topics, t)
					}
				}
				if err := names.Err(); err != nil {
					return err
				}
			}
			var lines []scheduledLine
			for _, t := range topics {
				list, err := consumers.ListScheduled(ctx, js, t)
				if err != nil {
					return err
				}
				for _, s := range list {
					lines = append(lines, scheduledLine{
						Topic: s.Topic, ID: s.ID, At: s.At, Priority: s.Priority.String(), Key: s.Key, Sequence: s.Sequence, Bytes: len(s.Data),
						Deadline: s.Header.Get(processes.HeaderDeadline), Process: s.Header.Get(processes.HeaderProcess),
						Instance: s.Header.Get(processes.HeaderInstance),
					})
				}
			}
			if f.asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, line := range lines {
					if err := enc.Encode(line); err != nil {
						return err
					}
				}
				return nil
			}
			return writeScheduled(cmd.OutOrStdout(), lines, time.Now())
		},
	}
	f.register(cmd, l)
	cmd.Flags().StringVar(&topic, "topic", "", "only this topic's (default: every topic)")
	return cmd
}

func writeScheduled(w io.Writer, lines []scheduledLine, now time.Time) error {
	if len(lines) == 0 {
		fmt.Fprintln(w, "nothing scheduled")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tID\tAT\tIN\tPRIORITY\tKEY\tWHAT")
	for _, s := range lines {
		what := fmt.Sprintf("%d bytes", s.Bytes)
		if s.Deadline != "" {
			what = fmt.Sprintf("deadline %s of %s %s", s.Deadline, s.Process, s.Instance)
		}
		key := s.Key
		if key == "" {
			key = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Topic, s.ID, s.At.Format(time.RFC3339),
			s.At.Sub(now).Round(time.Second), s.Priority, key, what)
	}
	return tw.Flush()
}

func newSchedulesCancelCmd(l *loader) *cobra.Command {
	var f jsFlags
	cmd := &cobra.Command{
		Use:   "cancel <topic> <id>",
		Short: "Cancel a scheduled message: once this succeeds, no handler ever gets it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			js, _, ctx, done, err := f.open(cmd)
			if err != nil {
				return err
			}
			defer done()
			err = consumers.CancelScheduled(ctx, js, args[0], args[1])
			if errors.Is(err, consumers.ErrNotScheduled) {
				return fmt.Errorf("%s on topic %s is not scheduled: delivered already, cancelled, or never scheduled (jetflow schedules ls)", args[1], args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cancelled %s on topic %s\n", args[1], args[0])
			return nil
		},
	}
	f.register(cmd, l)
	return cmd
}
