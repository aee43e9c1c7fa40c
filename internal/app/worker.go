package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/observability"
	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/wire"
)

// workerFlags describe one subscription on the command line; --config
// replaces them with a file of any number of subscriptions: jetflow.tsk or
// JSON (loadWorkerConfig).
type workerFlags struct {
	name           string
	topic          string
	stream         string
	subjects       []string
	mode           string
	instance       string
	filters        []string
	maxRetries     int
	backoff        []time.Duration
	concurrency    int
	batch          int
	ackWait        time.Duration
	webhook        string
	webhookTimeout time.Duration
	webhookHeaders []string
	// webhookSecretFile holds the signing secret: a file, so that the
	// secret is not on the command line, where ps shows it.
	webhookSecretFile string
	webhookRedirects  string
	createTopic       bool
	retention         time.Duration
	replicas          int
	grace             time.Duration
	metricsListen     string
	// update lets the worker change subscriptions whose stored
	// definition differs (consumers.WithSubscriptionUpdate).
	update bool
}

func newWorkerCmd(l *loader) *cobra.Command {
	var (
		cf clientFlags
		f  workerFlags
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run subscriptions whose handlers are webhooks (retries, priorities, TTL, dead letters)",
		Long: "Runs durable subscriptions on topics or on EVENTS and POSTs every message to a webhook:\n" +
			"2xx acknowledges, 4xx (but 408/429) dead-letters at once, 5xx/408/429/timeouts retry with\n" +
			"the backoff schedule. One subscription comes from the flags, any number from --config: a .json\n" +
			"file, or a jetflow.tsk (its [topics.*], [subscriptions.*] and [dlq]), which replaces the\n" +
			"subscription flags and is read by default ($JETFLOW_CONFIG, else ./jetflow.tsk) when none is given.\n" +
			"Where and how to connect, and logging, come from jetflow.tsk (with a .json: the default one),\n" +
			"JETFLOW_* variables and the flags, as for the other commands.\n" +
			"SIGINT/SIGTERM stop pulling and let in-flight messages finish within --shutdown-grace.",
		Example: "  jetflow worker --topic orders --name billing --webhook http://billing:8080/hook\n" +
			"  jetflow worker --topic orders --name big --filter 'amount greater_than 100' --subject 'order.*' \\\n" +
			"      --max-retries 5 --backoff 1s,5s,30s --concurrency 8 --webhook http://x/hook\n" +
			"  jetflow worker --stream EVENTS --subject 'events.user.>' --name mailer --webhook http://mail/hook\n" +
			"  jetflow worker --config worker.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, err := f.subscriptionsFile(cmd, l.file)
			if err != nil {
				return err
			}
			// A .json holds subscriptions only: the rest comes from the
			// configuration a client command reads.
			tsk := file
			if isJSON(file) {
				tsk = ""
			}
			settings, err := cf.loadFrom(cmd, l, tsk)
			if err != nil {
				return err
			}
			logger, err := newLogger(cmd.ErrOrStderr(), settings.Log.Level, settings.Log.Format)
			if err != nil {
				return err
			}
			cfg, err := f.workerConfig(cmd, file, settings)
			if err != nil {
				return err
			}
			// A platform process: the services' private inbox, and the
			// service user's credentials (nats.user, --nats-user) when the
			// server requires them.
			nc, err := cf.connect(settings, nats.Name("jetflow-worker"), nats.MaxReconnects(-1), nats.CustomInboxPrefix(wire.ServiceInboxPrefix))
			if err != nil {
				return err
			}
			// Acks are fire-and-forget: flush them before the connection goes.
			defer func() {
				_ = nc.FlushTimeout(5 * time.Second)
				nc.Close()
			}()
			js, err := jetstream.New(nc)
			if err != nil {
				return err
			}
			// The metrics server and the workers run as one group: the
			// first of them to end stops the other.
			g := lifecycle.NewGroup(logger)
			registry, metrics := observability.NewRegistry()
			if f.metricsListen != "" {
				obs, err := observability.NewServer(f.metricsListen, registry, logger)
				if err != nil {
					return err
				}
				obs.AddCheck(observability.Check{Name: "nats", Check: func(context.Context) error {
					if !nc.IsConnected() {
						return errors.New("not connected to NATS")
					}
					return nil
				}})
				g.Add("metrics and health", obs, 0)
				logger.Info("metrics and health", "url", "http://"+obs.Addr()+"/metrics")
			}
			wopts := []consumers.WorkerOption{consumers.WithLogger(logger), consumers.WithMetrics(metrics)}
			if f.update {
				wopts = append(wopts, consumers.WithSubscriptionUpdate())
			}
			// RunWorkers stops its workers within their shutdown grace
			// itself once its context ends.
			g.Add("workers", lifecycle.Func(func(ctx context.Context) error {
				return consumers.RunWorkers(ctx, js, cfg, wopts...)
			}), cfg.ShutdownGrace+5*time.Second)
			err = g.Run(cmd.Context(), nil)
			if errors.Is(err, consumers.ErrSubscriptionChanged) && !f.update {
				return fmt.Errorf("%w\n(nothing was changed; to apply the new definition stop every worker of the subscription "+
					"and start one with --update-subscription, see --help for what a changed --subject skips)", err)
			}
			return err
		},
	}
	cf.register(cmd)
	f.register(cmd)
	boundWorkerFlags(cmd.Flags())
	return cmd
}

func (f *workerFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "subscription name (its durable consumers are named after it)")
	fl.StringVar(&f.topic, "topic", "", "topic to consume")
	fl.StringVar(&f.stream, "stream", "", "stream to consume instead of a topic, e.g. EVENTS")
	fl.StringArrayVar(&f.subjects, "subject", nil, "server-side subject filter: a key pattern for a topic, a subject for a stream (repeatable)")
	fl.StringVar(&f.mode, "mode", "queue", "queue (workers share the subscription) or pubsub (each --instance gets every message)")
	fl.StringVar(&f.instance, "instance", "", "instance name in pubsub mode (stable across restarts)")
	fl.StringArrayVar(&f.filters, "filter", nil, "payload filter '<field> <operator> <value>', e.g. 'amount greater_than 100' (repeatable, all must match)")
	fl.IntVar(&f.maxRetries, "max-retries", consumers.DefaultMaxRetries, "retries after the first delivery (0: none)")
	fl.DurationSliceVar(&f.backoff, "backoff", consumers.DefaultBackoff, "delay before each retry; the last repeats")
	fl.IntVar(&f.concurrency, "concurrency", consumers.DefaultConcurrency, "handler calls in flight")
	fl.IntVar(&f.batch, "batch", consumers.DefaultBatchSize, "messages pulled ahead per priority")
	fl.DurationVar(&f.ackWait, "ack-wait", consumers.DefaultAckWait, "redelivery after this long without an ack (long handlers send progress acks)")
	fl.StringVar(&f.webhook, "webhook", "", "URL that receives a POST per message")
	fl.DurationVar(&f.webhookTimeout, "webhook-timeout", consumers.DefaultWebhookTimeout, "bound of one webhook call (a timeout is retried)")
	fl.StringArrayVar(&f.webhookHeaders, "webhook-header", nil, "header added to every webhook call, 'Name: value' (repeatable; "+
		"a secret one belongs in jetflow.tsk's webhook_headers, since ps shows flags)")
	fl.StringVar(&f.webhookSecretFile, "webhook-secret-file", "", "file holding the secret that signs every webhook call "+
		"(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)")
	fl.StringVar(&f.webhookRedirects, "webhook-redirects", string(consumers.RedirectNone), "none, or same_origin: follow 307 and 308 within the webhook URL's origin")
	fl.BoolVar(&f.createTopic, "create-topic", false, "create or update the topic's stream with --retention and --replicas")
	fl.DurationVar(&f.retention, "retention", consumers.DefaultTopicRetention, "topic retention, with --create-topic")
	fl.IntVar(&f.replicas, "replicas", 1, "replicas of the topic (with --create-topic) and of the DLQ if the worker creates it")
	fl.DurationVar(&f.grace, "shutdown-grace", consumers.DefaultShutdownGrace, "how long in-flight messages may finish on shutdown")
	fl.StringVar(&f.metricsListen, "metrics-listen", "", "address of /metrics, /healthz and /readyz, e.g. 127.0.0.1:9465 (empty: off)")
	fl.BoolVar(&f.update, "update-subscription", false, "change a subscription whose stored definition (--subject, --max-retries, --ack-wait) differs; "+
		"refused while other workers run it. A changed --subject keeps the consumer's position: earlier messages matching only the new "+
		"subjects are never delivered, and messages matching only the old ones are skipped, also if it is changed back later")
	keyFlags(fl,
		configFlag{"nats-user", "nats.user", "NATS user of the platform's services (nats.conf: jetflow); default $JETFLOW_NATS_USER"},
		configFlag{"nats-password", "nats.password", "password of --nats-user; default $JETFLOW_NATS_PASSWORD (preferred: flags show in ps)"},
		configFlag{"log-level", "log.level", "debug, info, warn or error"},
		configFlag{"log-format", "log.format", "text or json"},
	)
}

// subscriptionFlags are the flags --config replaces.
var subscriptionFlags = []string{"name", "topic", "stream", "subject", "mode", "filter", "max-retries",
	"backoff", "concurrency", "batch", "ack-wait", "webhook", "webhook-timeout", "webhook-header", "webhook-secret-file", "webhook-redirects", "create-topic",
	"retention", "replicas"}

// subscriptionsFile is where the worker's subscriptions come from:
// configFile (--config, a .json or a jetflow.tsk), "" for the flags, else
// the configuration file found by default.
func (f *workerFlags) subscriptionsFile(cmd *cobra.Command, configFile string) (string, error) {
	flagsGiven := false
	for _, name := range subscriptionFlags {
		if cmd.Flags().Changed(name) {
			flagsGiven = true
			if configFile != "" {
				return "", fmt.Errorf("--%s cannot be combined with --config; put it in the file", name)
			}
		}
	}
	switch {
	case flagsGiven:
		return "", nil
	case configFile != "":
		return configFile, nil
	}
	if path := config.DefaultPath(os.Environ()); path != "" {
		return path, nil
	}
	return "", errors.New("no subscription: give --topic or --stream with --name and --webhook, or a configuration (--config jetflow.tsk)")
}

func isJSON(file string) bool { return strings.HasSuffix(file, ".json") }

// workerConfig turns file (subscriptionsFile; settings is the validated
// configuration it names, unless it is a .json) or the flags into a
// validated worker configuration.
func (f *workerFlags) workerConfig(cmd *cobra.Command, file string, settings config.Config) (consumers.WorkerConfig, error) {
	if file != "" {
		var (
			wc  consumers.WorkerConfig
			err error
		)
		if isJSON(file) {
			r, oerr := os.Open(file)
			if oerr != nil {
				return consumers.WorkerConfig{}, oerr
			}
			defer r.Close()
			wc, err = loadWorkerConfig(r)
		} else {
			instance := f.instance
			if instance == "" {
				// Pub/sub instances need a name that survives restarts.
				instance, _ = os.Hostname()
			}
			wc, err = workerConfigFromSettings(settings, instance)
		}
		if err != nil {
			return consumers.WorkerConfig{}, fmt.Errorf("%s: %w", file, err)
		}
		if cmd.Flags().Changed("shutdown-grace") {
			wc.ShutdownGrace = f.grace
		}
		return wc, nil
	}
	var errs []error
	sub := consumers.Subscription{
		Name: f.name, Topic: f.topic, Stream: f.stream, Subjects: f.subjects, Mode: consumers.Mode(f.mode),
		Instance: f.instance, MaxRetries: f.maxRetries, Backoff: f.backoff, Concurrency: f.concurrency,
		BatchSize: f.batch, AckWait: f.ackWait,
	}
	if f.maxRetries == 0 {
		sub.MaxRetries = consumers.NoRetries
	}
	for _, s := range f.filters {
		flt, err := consumers.ParseFilter(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("--filter: %w", err))
			continue
		}
		sub.Filters = append(sub.Filters, flt)
	}
	hook := consumers.WebhookConfig{URL: f.webhook, Timeout: f.webhookTimeout, Redirects: consumers.RedirectPolicy(f.webhookRedirects)}
	if f.webhookSecretFile != "" {
		secret, err := os.ReadFile(f.webhookSecretFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--webhook-secret-file: %w", err))
		}
		hook.Secret = strings.TrimRight(string(secret), "\r\n")
	}
	for _, h := range f.webhookHeaders {
		k, v, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("--webhook-header %q: want 'Name: value'", h))
			continue
		}
		if hook.Headers == nil {
			hook.Headers = map[string]string{}
		}
		hook.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	cfg := consumers.WorkerConfig{
		Subscriptions: []consumers.SubscriptionConfig{{Subscription: sub, Webhook: hook}},
		DLQ:           consumers.DLQConfig{Replicas: f.replicas},
		ShutdownGrace: f.grace,
	}
	if f.createTopic {
		cfg.Topics = []consumers.TopicConfig{{Name: f.topic, Retention: f.retention, Replicas: f.replicas}}
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return consumers.WorkerConfig{}, err
	}
	return cfg, nil
}
