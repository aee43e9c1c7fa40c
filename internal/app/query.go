package app

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/client"
)

func newQueryCmd(l *loader) *cobra.Command {
	var cf clientFlags
	var userID string
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
			cfg, err := cf.load(cmd, l)
			if err != nil {
				return err
			}
			nc, err := cf.connect(cfg)
			if err != nil {
				return err
			}
			defer nc.Close()
			ctx, cancel := cf.bound(cmd.Context())
			defer cancel()
			prefix := cfg.Queries.SubjectPrefix
			var reply json.RawMessage
			_, err = client.New(nc, client.WithQueryPrefix(prefix)).Query(ctx, args[0], json.RawMessage(body), &reply, client.UserID(userID))
			return printReply(cmd, reply, err, prefix+"."+args[0], cf.url)
		},
	}
	cf.register(cmd)
	keyFlags(cmd.Flags(), configFlag{"prefix", "queries.subject_prefix", "query subject prefix (default: queries.subject_prefix of jetflow.tsk)"})
	cmd.Flags().StringVar(&userID, "user-id", "", "Jetflow-User-Id: who the query is asked for, where the query service trusts the header (queries.identity)")
	return cmd
}
