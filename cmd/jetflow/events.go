package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/streams"
)

func newEventsCmd() *cobra.Command {
	var (
		cf     clientFlags
		cfg    = streams.DefaultConfig()
		asJSON bool
		after  uint64
	)
	cmd := &cobra.Command{
		Use:     "events <aggregate_type> <aggregate_id>",
		Short:   "Print an aggregate's events",
		Example: "  jetflow events user 0198c0de-…\n  jetflow events user 0198c0de-… --json",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, err := range []error{
				cf.configured(cmd, "stream", &cfg.EventStream, func(c config.Config) string { return c.Events.Stream }),
				cf.configured(cmd, "subject-prefix", &cfg.SubjectPrefix, func(c config.Config) string { return c.Events.SubjectPrefix }),
			} {
				if err != nil {
					return err
				}
			}
			nc, err := cf.connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			store, err := streams.NewStore(js, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if !asJSON {
				fmt.Fprintln(tw, "VERSION\tSEQUENCE\tTYPE\tOCCURRED AT\tCORRELATION\tDATA")
			}
			n := 0
			ctx, cancel := cf.bound(cmd.Context())
			defer cancel()
			for ev, err := range store.Load(ctx, args[0], args[1], after) {
				if err != nil {
					return err
				}
				n++
				if asJSON {
					line, _ := json.Marshal(ev)
					fmt.Fprintln(out, string(line))
					continue
				}
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", ev.Version, ev.Sequence, ev.Type,
					ev.OccurredAt.Format(time.RFC3339), ev.Metadata.CorrelationID, ev.Data)
			}
			if !asJSON {
				if err := tw.Flush(); err != nil {
					return err
				}
				if n == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s %s has no events\n", args[0], args[1])
				}
			}
			return nil
		},
	}
	cf.register(cmd)
	cf.registerConfig(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON lines")
	cmd.Flags().Uint64Var(&after, "after", 0, "only events after this stream sequence")
	cmd.Flags().StringVar(&cfg.EventStream, "stream", cfg.EventStream, "event stream name (default: events.stream of jetflow.tsk)")
	cmd.Flags().StringVar(&cfg.SubjectPrefix, "subject-prefix", cfg.SubjectPrefix, "event subject prefix (default: events.subject_prefix of jetflow.tsk)")
	return cmd
}
