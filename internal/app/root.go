package app

import (
	"errors"

	"github.com/spf13/cobra"
)

// ErrReported marks an error whose message the command already printed.
var ErrReported = errors.New("error reported")

// NewRootCmd is the jetflow command line over d's parts.
func NewRootCmd(d *Domain) *cobra.Command {
	root := &cobra.Command{
		Use:           "jetflow",
		Short:         "Event sourcing, CQRS and messaging on NATS JetStream",
		Version:       rootVersion(), // --version: one line (version.go)
		SilenceUsage:  true,
		SilenceErrors: true,
		// Numeric flags out of range are errors naming the flag (flagcheck.go).
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return checkFlagValues(cmd) },
	}
	root.AddCommand(
		newBenchCmd(),
		newServeCmd(d),
		newSendCmd(),
		newEventsCmd(),
		newConfigCmd(),
		newWorkerCmd(),
		newDLQCmd(),
		newPublishCmd(),
		newQueryCmd(),
		newProjectionsCmd(d),
		newVersionCmd(),
	)
	return root
}
