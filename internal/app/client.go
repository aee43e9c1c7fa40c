package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/platform"
)

const defaultClientURL = "nats://127.0.0.1:4222"

// clientFlags are the connection flags every client command (and the
// worker) shares. --nats-url and --creds set nats.url and
// nats.credentials; without them the [nats] section of the configuration
// (and JETFLOW_NATS_*) says where and how to connect.
type clientFlags struct {
	timeout time.Duration
	// url is where connect went, for messages.
	url string
}

func (f *clientFlags) register(cmd *cobra.Command) {
	keyFlags(cmd.Flags(),
		configFlag{"nats-url", "nats.url", "NATS server or cluster to talk to (default: nats.url of jetflow.tsk when present)"},
		configFlag{"creds", "nats.credentials", "NATS credentials file"},
	)
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "how long the command may wait for the server, in all")
	atLeastDuration(cmd.Flags(), "timeout", time.Nanosecond)
}

// load is loader.load for a command that dials nats.url whatever
// server.embedded says: the layout (stream names, prefixes) and the
// connection come from the configuration unless the flags say otherwise.
func (f *clientFlags) load(cmd *cobra.Command, l *loader) (config.Config, error) {
	return f.loadFrom(cmd, l, l.file)
}

// loadFrom is load from file instead of --config.
func (f *clientFlags) loadFrom(cmd *cobra.Command, l *loader, file string) (config.Config, error) {
	if fl := cmd.Flags().Lookup("nats-url"); fl.Changed && strings.TrimSpace(fl.Value.String()) == "" {
		return config.Config{}, &flagValueError{Flag: "nats-url", Want: "a NATS URL such as " + defaultClientURL, Got: `""`}
	}
	return l.loadFrom(cmd, file, nil, func(cfg config.Config) error {
		if err := cfg.Validate(); err != nil {
			return err
		}
		if cfg.NATS.URL == "" {
			// serve may run the embedded server without it; a client cannot.
			return fmt.Errorf("%w; or give --nats-url", cfg.ValidateClient())
		}
		return nil
	})
}

// connect dials nats.url with the [nats] credentials; opts come last.
func (f *clientFlags) connect(cfg config.Config, opts ...nats.Option) (*nats.Conn, error) {
	f.url = cfg.NATS.URL
	all := append([]nats.Option{nats.Name("jetflow-cli"), nats.Timeout(f.timeout)}, natsOptions(cfg.NATS)...)
	nc, err := nats.Connect(f.url, append(all, opts...)...)
	if err != nil {
		return nil, connectError(f.url, err)
	}
	return nc, nil
}

// connectError says what to check: the credentials when the server refused
// them, the server otherwise.
func connectError(url string, err error) error {
	url = platform.RedactURLs(url)
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		return fmt.Errorf("NATS at %s refused the credentials (check nats.user/nats.password/nats.creds, JETFLOW_NATS_*, --creds): %w", url, err)
	}
	return fmt.Errorf("cannot reach NATS at %s (is `jetflow serve` running?): %w", url, err)
}

// bound limits one command's work with the server to --timeout.
func (f *clientFlags) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.timeout)
}

// jsFlags are what the processes, schedules and dlq commands share: the
// connection, --json, and the configuration (buckets, topics) as serve
// reads it.
type jsFlags struct {
	cf     clientFlags
	l      *loader
	asJSON bool
}

func (f *jsFlags) register(cmd *cobra.Command, l *loader) {
	f.l = l
	f.cf.register(cmd)
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print JSON lines")
}

// open loads the configuration, connects and returns JetStream, ctx
// bounded by --timeout, and what to call when done.
func (f *jsFlags) open(cmd *cobra.Command) (jetstream.JetStream, config.Config, context.Context, func(), error) {
	cfg, err := f.cf.load(cmd, f.l)
	if err != nil {
		return nil, cfg, nil, nil, err
	}
	nc, err := f.cf.connect(cfg)
	if err != nil {
		return nil, cfg, nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, cfg, nil, nil, err
	}
	ctx, cancel := f.cf.bound(cmd.Context())
	return js, cfg, ctx, func() { cancel(); nc.Close() }, nil
}
