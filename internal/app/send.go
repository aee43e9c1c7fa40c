package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/wire"
)

func newSendCmd() *cobra.Command {
	var (
		cf              clientFlags
		prefix          string
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
			if err := cf.configured(cmd, "prefix", &prefix, func(c config.Config) string { return c.Commands.SubjectPrefix }); err != nil {
				return err
			}
			nc, err := cf.connect()
			if err != nil {
				return err
			}
			defer nc.Close()
			msg := nats.NewMsg(prefix + "." + args[0])
			msg.Data = []byte(args[1])
			setIf(msg.Header, wire.HeaderCommandID, commandID)
			setIf(msg.Header, wire.HeaderCorrelationID, correlationID)
			setIf(msg.Header, wire.HeaderUserID, userID)
			if cmd.Flags().Changed("expected-version") {
				msg.Header.Set(wire.HeaderExpectedVersion, strconv.FormatInt(expectedVersion, 10))
			}
			return request(cmd, nc, msg, cf)
		},
	}
	cf.register(cmd)
	cf.registerConfig(cmd)
	cmd.Flags().StringVar(&prefix, "prefix", "cmd", "command subject prefix (default: commands.subject_prefix of jetflow.tsk)")
	cmd.Flags().StringVar(&commandID, "command-id", "", "Jetflow-Command-Id: resending the same id is idempotent")
	cmd.Flags().StringVar(&correlationID, "correlation-id", "", "Jetflow-Correlation-Id")
	cmd.Flags().StringVar(&userID, "user-id", "", "Jetflow-User-Id")
	cmd.Flags().Int64Var(&expectedVersion, "expected-version", 0, "Jetflow-Expected-Version (409 when the aggregate is at another version; 0: it must not exist yet); not given: no check")
	atLeast(cmd.Flags(), "expected-version", 0)
	return cmd
}

// request sends msg, prints a success body to stdout, and an error reply
// to stderr with a non-zero exit.
func request(cmd *cobra.Command, nc *nats.Conn, msg *nats.Msg, cf clientFlags) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), cf.timeout)
	defer cancel()
	reply, err := nc.RequestMsgWithContext(ctx, msg)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("no service answers %s at %s (is `jetflow serve` running?)", msg.Subject, cf.url)
	case err != nil:
		return fmt.Errorf("%s: %w", msg.Subject, err)
	}
	if e := wire.ParseErrorReply(reply); e != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "error %d %s: %s\n", e.Status, e.Code, e.Message)
		return ErrReported
	}
	fmt.Fprintln(cmd.OutOrStdout(), string(reply.Data))
	return nil
}

func setIf(h nats.Header, key, value string) {
	if value != "" {
		h.Set(key, value)
	}
}
