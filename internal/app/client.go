package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/platform"
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
	file    string // --config, for the commands that take it
	loaded  *config.Config
}

// registerConfig adds --config: the file settings() reads.
func (f *clientFlags) registerConfig(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.file, "config", "", "configuration file (default: $JETFLOW_CONFIG, else ./jetflow.tsk when present)")
}

func (f *clientFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.url, "nats-url", defaultClientURL, "NATS server or cluster to talk to (default: nats.url of jetflow.tsk when present)")
	cmd.Flags().StringVar(&f.creds, "creds", "", "NATS credentials file")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "how long the command may wait for the server, in all")
	atLeastDuration(cmd.Flags(), "timeout", time.Nanosecond)
	f.urlFlag = cmd.Flags().Lookup("nats-url")
}

// target resolves the URL and the options to connect with from jetflow.tsk
// (or $JETFLOW_CONFIG) and JETFLOW_NATS_*, and the flags.
func (f *clientFlags) target() (string, []nats.Option, error) {
	cfg, err := f.settings()
	if err != nil {
		return "", nil, err
	}
	return f.targetFor(cfg)
}

// settings loads jetflow.tsk (or $JETFLOW_CONFIG) and JETFLOW_* once: the
// layout (stream, prefixes) and connection a client command uses unless
// its flags say otherwise.
func (f *clientFlags) settings() (config.Config, error) {
	if f.loaded == nil {
		env := os.Environ()
		path := f.file
		if path == "" {
			path = config.DefaultPath(env)
		}
		cfg, err := config.Load(path, env)
		if err == nil {
			// Its prefixes and stream names go into subjects: check them.
			err = cfg.Validate()
		}
		if err != nil {
			return config.Config{}, err
		}
		f.loaded = &cfg
	}
	return *f.loaded, nil
}

// configured sets *dst from the configuration unless the flag was given.
func (f *clientFlags) configured(cmd *cobra.Command, flag string, dst *string, from func(config.Config) string) error {
	if cmd.Flags().Changed(flag) {
		return nil
	}
	cfg, err := f.settings()
	if err != nil {
		return err
	}
	*dst = from(cfg)
	return nil
}

// targetFor resolves the connection from an already loaded configuration:
// --nats-url wins over nats.url, and the [nats] credentials apply either way.
func (f *clientFlags) targetFor(cfg config.Config) (string, []nats.Option, error) {
	opts := append([]nats.Option{nats.Name("jetflow-cli"), nats.Timeout(f.timeout)}, natsOptions(cfg.NATS)...)
	url := f.url
	switch {
	case f.urlFlag != nil && f.urlFlag.Changed:
		if strings.TrimSpace(url) == "" {
			return "", nil, &flagValueError{Flag: "nats-url", Want: "a NATS URL such as " + defaultClientURL, Got: `""`}
		}
	case cfg.NATS.URL == "":
		// serve may run the embedded server without it; a client cannot.
		err := cfg.ValidateClient()
		if err == nil {
			err = errors.New("nats.url: empty") // cannot happen: it refuses an empty url
		}
		return "", nil, fmt.Errorf("%w; or give --nats-url", err)
	default:
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
