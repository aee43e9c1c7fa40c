package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultGCPercent: jetflow's live heap is small and what it allocates is
// nearly all short-lived (NATS buffers, JSON, envelopes), so collecting less
// often buys throughput cheaply. Measured with `jetflow bench --scenario
// command`: 0.43 of the raw write rate at the Go default of 100, 0.50 at
// 400. GOGC in the environment still wins.
const defaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The first signal starts a clean shutdown; once it has, the
		// default handling is back, so a second one ends the process at once.
		<-ctx.Done()
		stop()
	}()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(os.Stderr, "jetflow:", err)
		}
		os.Exit(1)
	}
}
