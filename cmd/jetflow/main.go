// Command jetflow runs the jetflow platform (serve, worker), talks to a
// running one (send, events, query, projections, dlq, config) and measures it
// (bench). It holds wiring and flags only; behaviour lives in the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "jetflow:", err)
		}
		os.Exit(1)
	}
}
