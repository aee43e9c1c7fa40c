package jetflow

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/internal/app"
)

// Started says where a running platform can be reached; OnReady gets it.
type Started struct {
	// NATSURL is the embedded server's client URL, or the configured one.
	NATSURL string
	// MetricsAddr is the host:port of /metrics, /healthz and /readyz
	// ("" when metrics.listen is empty).
	MetricsAddr string
	// ConsoleURL is the web console's address, http://host:port/ui/ (""
	// unless console.enabled).
	ConsoleURL string
}

// RunOption changes how Run configures and reports the platform.
type RunOption func(*runOptions)

type runOptions struct {
	file     string
	settings []app.Setting
	logger   *slog.Logger
	onReady  func(Started)
}

// WithConfigFile reads the configuration from path instead of
// $JETFLOW_CONFIG or ./jetflow.tsk.
func WithConfigFile(path string) RunOption { return func(o *runOptions) { o.file = path } }

// WithSetting sets one configuration key, as `jetflow config` names them
// ("server.listen", "projections.orders.max_retries", or "shop.max_lines"
// of a section registered with Settings); it wins over the file and
// JETFLOW_* variables. Setting nats.url connects to that server
// instead of starting the embedded one, as --nats-url does.
func WithSetting(key, value string) RunOption {
	return func(o *runOptions) { o.settings = append(o.settings, app.Setting{Key: key, Value: value}) }
}

// WithLogger logs to l instead of the logger the [log] section describes.
func WithLogger(l *slog.Logger) RunOption { return func(o *runOptions) { o.logger = l } }

// OnReady calls fn once the server, the command service, the read models,
// the queries and the workers have all started.
func OnReady(fn func(Started)) RunOption { return func(o *runOptions) { o.onReady = fn } }

// Run starts the platform with the registered parts — what `jetflow
// serve` does — and blocks until ctx ends, then stops every part within
// its shutdown bound. It returns registration and configuration errors
// before starting anything, and nil after a clean stop. When a part fails
// to start, or ends on its own while running (its connection closed, a
// consumer deleted, a component's error), Run stops every other part and
// returns a *lifecycle.MemberError naming it.
func (a *App) Run(ctx context.Context, opts ...RunOption) error {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := a.validate(); err != nil {
		return err
	}
	cfg, err := a.domain.LoadConfig(o.file, o.settings)
	if err != nil {
		return err
	}
	so := &app.ServeOptions{Logger: o.logger}
	if o.onReady != nil {
		so.OnReady = func(s app.Started) {
			o.onReady(Started{NATSURL: s.NATSURL, MetricsAddr: s.MetricsAddr, ConsoleURL: s.ConsoleURL})
		}
	}
	return app.Serve(ctx, cfg, &a.domain, so)
}

// Command returns the jetflow command line over the registered parts, for
// programs that add subcommands of their own before executing it.
// Registration errors are reported when a subcommand runs.
func (a *App) Command() *cobra.Command {
	root := app.NewRootCmd(&a.domain)
	pre := root.PersistentPreRunE
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if err := a.validate(); err != nil {
			return err
		}
		if pre != nil {
			return pre(cmd, args)
		}
		return nil
	}
	return root
}
