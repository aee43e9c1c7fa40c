package app

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// ErrReported marks an error whose message the command already printed.
var ErrReported = errors.New("error reported")

// annotationNoConfig marks a command that reads no configuration, so
// that --config given to it is an error rather than ignored.
const annotationNoConfig = "jetflow_no_config"

// NewRootCmd is the jetflow command line over d's parts.
func NewRootCmd(d *Domain) *cobra.Command {
	l := &loader{domain: d}
	root := &cobra.Command{
		Use:           "jetflow",
		Short:         "Event sourcing, CQRS and messaging on NATS JetStream",
		Version:       rootVersion(), // --version: one line (version.go)
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Annotations[annotationNoConfig] != "" && cmd.Flags().Changed("config") {
				return fmt.Errorf("--config: jetflow %s reads no configuration", cmd.Name())
			}
			// Numeric flags out of range are errors naming the flag (flagcheck.go).
			return checkFlagValues(cmd)
		},
	}
	// One --config for every command, also after the subcommand's name.
	root.PersistentFlags().StringVar(&l.file, "config", "", configUsage)
	root.AddCommand(
		readsNoConfig(newBenchCmd(d)),
		readsNoConfig(newChaosCmd(d)),
		newServeCmd(l),
		newSendCmd(l),
		newEventsCmd(l),
		newConfigCmd(l),
		newWorkerCmd(l),
		newDLQCmd(l),
		newPublishCmd(l),
		newQueryCmd(l),
		newProjectionsCmd(l),
		newProcessesCmd(l),
		newSchedulesCmd(l),
		readsNoConfig(newVersionCmd()),
	)
	return root
}

func readsNoConfig(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[annotationNoConfig] = "true"
	return cmd
}
