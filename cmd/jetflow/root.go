package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// errReported marks an error whose message the command already printed.
var errReported = errors.New("error reported")

func exitCode(err error) int {
	if errors.Is(err, errReported) {
		return 1
	}
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "jetflow",
		Short:         "Event sourcing, CQRS and messaging on NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newBenchCmd(),
	)
	return root
}
