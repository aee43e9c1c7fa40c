package app

import (
	"fmt"
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
	)
	cmd := &cobra.Command{
		Use:   "publish <topic> <payload>",
		Short: "Publish a message to a topic and print where it was stored",
		Example: `  jetflow publish orders '{"id":"o-1","amount":120}' --key order.created --priority high
  jetflow publish orders '{"id":"o-2"}' --ttl 30s --msg-id o-2-created`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := consumers.ParsePriority(priority)
			if err != nil {
				return err
			}
			out.Priority, out.TTL, out.Data = p, ttl, []byte(args[1])
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
	fl.StringVar(&out.MsgID, "msg-id", "", "message id: a second publish with the same id is not stored again")
	fl.StringVar(&out.CorrelationID, "correlation-id", "", "Jetflow-Correlation-Id")
	fl.StringVar(&out.UserID, "user-id", "", "Jetflow-User-Id")
	return cmd
}
