package main

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
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
	cmd.Flags().StringVar(&prefix, "prefix", "query", "query subject prefix")
	return cmd
}
