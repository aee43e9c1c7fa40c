package app

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/config"
)

func newQueryCmd() *cobra.Command {
	var (
		cf     clientFlags
		prefix string
	)
	cmd := &cobra.Command{
		Use:   "query <read_model.query> [json]",
		Short: "Send a query and print the reply",
		Example: `  jetflow query users.list '{"status":"active"}'
  jetflow query users.list '{"page":2,"per_page":50}'
  jetflow query users.get '{"id":"…","min_sequence":42}'`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.Count(args[0], ".") != 1 {
				return fmt.Errorf("query %q: want <read_model>.<query>, e.g. users.list", args[0])
			}
			body := "{}"
			if len(args) == 2 {
				body = args[1]
			}
			if err := cf.configured(cmd, "prefix", &prefix, func(c config.Config) string { return c.Queries.SubjectPrefix }); err != nil {
				return err
			}
			nc, err := cf.connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			msg := nats.NewMsg(prefix + "." + args[0])
			msg.Data = []byte(body)
			return request(cmd, nc, msg, cf)
		},
	}
	cf.register(cmd)
	cf.registerConfig(cmd)
	cmd.Flags().StringVar(&prefix, "prefix", "query", "query subject prefix (default: queries.subject_prefix of jetflow.tsk)")
	return cmd
}
