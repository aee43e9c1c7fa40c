package main

import (
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
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for a reply")
	f.urlFlag = cmd.Flags().Lookup("nats-url")
}

// target resolves the URL and the options to connect with, reading
// jetflow.tsk (or $JETFLOW_CONFIG) when --nats-url is not given.
func (f *clientFlags) target() (string, []nats.Option, error) {
	if f.urlFlag != nil && f.urlFlag.Changed {
		return f.targetFor(config.Default())
	}
	env := os.Environ()
	cfg, err := config.Load(config.DefaultPath(env), env)
	if err != nil {
		return "", nil, err
	}
	return f.targetFor(cfg)
}

// targetFor resolves the connection from an already loaded configuration:
// --nats-url wins over nats.url, and the [nats] credentials apply.
func (f *clientFlags) targetFor(cfg config.Config) (string, []nats.Option, error) {
	opts := []nats.Option{nats.Name("jetflow-cli"), nats.Timeout(f.timeout)}
	url := f.url
	if f.urlFlag == nil || !f.urlFlag.Changed {
		url = cfg.NATS.URL
		opts = append(opts, natsOptions(cfg.NATS)...)
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
		return nil, fmt.Errorf("cannot reach NATS at %s (is `jetflow serve` running?): %w", url, err)
	}
	return nc, nil
}
