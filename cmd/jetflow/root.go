package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// errReported marks an error whose message the command already printed.
var errReported = errors.New("error reported")

func newRootCmd() *cobra.Command {
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
		newServeCmd(),
		newSendCmd(),
		newEventsCmd(),
		newConfigCmd(),
		newWorkerCmd(),
		newDLQCmd(),
		newPublishCmd(),
		newQueryCmd(),
		newProjectionsCmd(),
		newVersionCmd(),
	)
	return root
}
