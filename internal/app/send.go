package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/wire"
)

func newSendCmd(l *loader) *cobra.Command {
	var (
		cf              clientFlags
		commandID       string
		correlationID   string
		userID          string
		expectedVersion int64
	)
	cmd := &cobra.Command{
		Use:   "send <aggregate_type.command> <json>",
		Short: "Send a command and print the reply",
		Example: `  jetflow send user.create '{"username":"alice","email":"alice@example.com"}'
  jetflow send user.change_status '{"id":"…","status":"suspended"}' --expected-version 1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.Count(args[0], ".") != 1 {
				return fmt.Errorf("command %q: want <aggregate_type>.<command>, e.g. user.create", args[0])
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
			opts := []client.CommandOption{client.CommandID(commandID), client.CorrelationID(correlationID), client.UserID(userID)}
			if cmd.Flags().Changed("expected-version") {
				opts = append(opts, client.ExpectedVersion(uint64(expectedVersion))) // --expected-version is at least 0
			}
			ctx, cancel := cf.bound(cmd.Context())
			defer cancel()
			prefix := cfg.Commands.SubjectPrefix
			reply, err := client.New(nc, client.WithCommandPrefix(prefix)).SendRaw(ctx, args[0], json.RawMessage(args[1]), opts...)
			return printReply(cmd, reply, err, prefix+"."+args[0], cf.url)
		},
	}
	cf.register(cmd)
	keyFlags(cmd.Flags(), configFlag{"prefix", "commands.subject_prefix", "command subject prefix (default: commands.subject_prefix of jetflow.tsk)"})
	cmd.Flags().StringVar(&commandID, "command-id", "", "Jetflow-Command-Id: resending the same id is idempotent")
	cmd.Flags().StringVar(&correlationID, "correlation-id", "", "Jetflow-Correlation-Id")
	cmd.Flags().StringVar(&userID, "user-id", "", "Jetflow-User-Id")
	cmd.Flags().Int64Var(&expectedVersion, "expected-version", 0, "Jetflow-Expected-Version (409 when the aggregate is at another version; 0: it must not exist yet); not given: no check")
	atLeast(cmd.Flags(), "expected-version", 0)
	return cmd
}

// printReply prints a command's or a query's reply body to stdout, or its
// error reply to stderr with a non-zero exit.
func printReply(cmd *cobra.Command, reply json.RawMessage, err error, subject, url string) error {
	if e, ok := errors.AsType[*wire.Error](err); ok {
		fmt.Fprintf(cmd.ErrOrStderr(), "error %d %s: %s\n", e.Status, e.Code, e.Message)
		return ErrReported
	}
	if errors.Is(err, client.ErrNoService) {
		return fmt.Errorf("no service answers %s at %s (is `jetflow serve` running?)", subject, platform.RedactURLs(url))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(reply))
	return nil
}
