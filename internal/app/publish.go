package app

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/consumers"
)

func newPublishCmd(l *loader) *cobra.Command {
	var (
		cf       clientFlags
		out      consumers.Outgoing
		priority string
		ttl      time.Duration
		at       string
		in       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "publish <topic> <payload>",
		Short: "Publish a message to a topic and print where it was stored",
		Example: `  jetflow publish orders '{"id":"o-1","amount":120}' --key order.created --priority high
  jetflow publish orders '{"id":"o-2"}' --ttl 30s --msg-id o-2-created
  jetflow publish reminders '{"id":"o-3"}' --in 30m --msg-id remind-o-3
  jetflow publish reminders '{"id":"o-4"}' --at 2026-12-24T18:00:00Z`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := consumers.ParsePriority(priority)
			if err != nil {
				return err
			}
			out.Priority, out.TTL, out.Data = p, ttl, []byte(args[1])
			when, scheduled, err := scheduleFlags(cmd, at, in)
			if err != nil {
				return err
			}
			cfg, err := cf.load(cmd, l)
			if err != nil {
				return err
			}
			nc, err := cf.connect(cfg)
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			ctx, cancel := cf.bound(cmd.Context())
			defer cancel()
			if scheduled {
				s, err := consumers.NewPublisher(js).PublishAt(ctx, args[0], when, out)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "scheduled %s on %s for %s (in %s); cancel with: jetflow schedules cancel %s %s\n",
					s.ID, args[0], s.At.Format(time.RFC3339), time.Until(s.At).Round(time.Second), args[0], s.ID)
				return nil
			}
			ack, err := consumers.NewPublisher(js).Publish(ctx, args[0], out)
			if err != nil {
				return err
			}
			dup := ""
			if ack.Duplicate {
				dup = " (duplicate: already stored, not stored again)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published to %s sequence %d%s\n", ack.Stream, ack.Sequence, dup)
			return nil
		},
	}
	cf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&out.Key, "key", "", "subject key after the priority token, e.g. order.created (subscriptions filter on it)")
	fl.StringVar(&priority, "priority", "normal", "low, normal, high or critical")
	fl.DurationVar(&ttl, "ttl", 0, "expire the message after this long (at least 1s)")
	fl.StringVar(&out.MsgID, "msg-id", "", "message id: a second publish with the same id is not stored again (with --at/--in: the schedule's id, which a second schedule replaces)")
	fl.StringVar(&at, "at", "", "deliver at this time (RFC 3339, e.g. 2026-12-24T18:00:00Z), not now")
	fl.DurationVar(&in, "in", 0, "deliver after this delay (e.g. 30m), not now")
	atLeastDuration(fl, "in", 0)
	fl.StringVar(&out.CorrelationID, "correlation-id", "", "Jetflow-Correlation-Id")
	fl.StringVar(&out.UserID, "user-id", "", "Jetflow-User-Id")
	return cmd
}

// scheduleFlags reads --at and --in: when the message is due, and whether
// it is scheduled at all.
func scheduleFlags(cmd *cobra.Command, at string, in time.Duration) (time.Time, bool, error) {
	fl := cmd.Flags()
	switch {
	case fl.Changed("at") && fl.Changed("in"):
		return time.Time{}, false, errors.New("--at and --in: give one of them")
	case fl.Changed("at"):
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return time.Time{}, false, &flagValueError{Flag: "at", Want: "an RFC 3339 time such as 2026-12-24T18:00:00Z", Got: strconv.Quote(at)}
		}
		return t, true, nil
	case fl.Changed("in"):
		return time.Now().Add(in), true, nil
	}
	return time.Time{}, false, nil
}
