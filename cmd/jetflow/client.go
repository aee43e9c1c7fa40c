package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jetflow/jetflow/internal/config"
)

const defaultClientURL = "nats://127.0.0.1:4222"

// clientFlags are the connection flags of the client commands. Without
// --nats-url, the [nats] section of jetflow.tsk (and JETFLOW_NATS_*) says
// where and how to connect.
type clientFlags struct {
	url     string
	creds   string
	timeout time.Duration
	urlFlag *pflag.Flag
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "nats-url", defaultClientURL, "NATS server or cluster to talk to (default: nats.url of jetflow.tsk when present)")
	cmd.Flags().StringVar(&f.creds, "creds", "", "NATS credentials file")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "how long the command may wait for the server, in all")
	f.urlFlag = cmd.Flags().Lookup("nats-url")
}

// target resolves the URL and the options to connect with from jetflow.tsk
// (or $JETFLOW_CONFIG) and JETFLOW_NATS_*, and the flags.
func (f *clientFlags) target() (string, []nats.Option, error) {
	env := os.Environ()
	cfg, err := config.Load(config.DefaultPath(env), env)
	if err != nil {
		return "", nil, err
	}
	return f.targetFor(cfg)
}

// targetFor resolves the connection from an already loaded configuration:
// --nats-url wins over nats.url, and the [nats] credentials apply either way.
func (f *clientFlags) targetFor(cfg config.Config) (string, []nats.Option, error) {
	opts := append([]nats.Option{nats.Name("jetflow-cli"), nats.Timeout(f.timeout)}, natsOptions(cfg.NATS)...)
	url := f.url
	if f.urlFlag == nil || !f.urlFlag.Changed {
		url = cfg.NATS.URL
	}
	if f.creds != "" {
		opts = append(opts, nats.UserCredentials(f.creds))
	}
	return url, opts, nil
}

func (f *clientFlags) connect() (*nats.Conn, error) {
	url, opts, err := f.target()
	if err != nil {
		return nil, err
	}
	return f.dial(url, opts)
}

func (f *clientFlags) dial(url string, opts []nats.Option) (*nats.Conn, error) {
	f.url = url
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, connectError(url, err)
	}
	return nc, nil
}

// connectError says what to check: the credentials when the server refused
// them, the server otherwise.
func connectError(url string, err error) error {
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		return fmt.Errorf("NATS at %s refused the credentials (check nats.user/nats.password/nats.creds, JETFLOW_NATS_*, --creds): %w", url, err)
	}
	return fmt.Errorf("cannot reach NATS at %s (is `jetflow serve` running?): %w", url, err)
}

// bound limits one command's work with the server to --timeout.
func (f *clientFlags) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.timeout)
}
