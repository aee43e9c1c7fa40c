package main

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

const defaultClientURL = "nats://127.0.0.1:4222"

// clientFlags are the connection flags of the client commands.
type clientFlags struct {
	url     string
	creds   string
	timeout time.Duration
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "nats-url", defaultClientURL, "NATS server or cluster to talk to")
	cmd.Flags().StringVar(&f.creds, "creds", "", "NATS credentials file")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for a reply")
}

func (f *clientFlags) connect() (*nats.Conn, error) {
	opts := []nats.Option{nats.Name("jetflow-cli"), nats.Timeout(f.timeout)}
	if f.creds != "" {
		opts = append(opts, nats.UserCredentials(f.creds))
	}
	nc, err := nats.Connect(f.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot reach NATS at %s (is `jetflow serve` running?): %w", f.url, err)
	}
	return nc, nil
}
