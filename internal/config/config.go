package config

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jetflow/jetflow/logctx"
	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
)

// DefaultFile is the configuration file jetflow reads from the working
// directory when no path is given.
const DefaultFile = "jetflow.tsk"

// Subscription modes.
const (
	// ModeQueue shares one durable consumer among every worker: each message is handled once.
	ModeQueue = "queue"
	// ModePubSub gives the subscription its own copy of every message on the topic.
	ModePubSub = "pubsub"
)

// Filter operators of a subscription's payload filter.
const (
	OpEquals      = "equals"
	OpNotEquals   = "not_equals"
	OpContains    = "contains"
	OpGreaterThan = "greater_than"
	OpLessThan    = "less_than"
)

// Config is the whole platform configuration. Its zero value is not useful:
// start from Default() or Load. Named entries (Projections, Topics,
// Subscriptions) are keyed by the name in their [section.name] header.
//
// A Config is a value: Set replaces maps and slices instead of writing into
// them, so a copy taken before a Set is not changed by it.
type Config struct {
	NATS          NATSConfig
	Server        ServerConfig
	Events        EventsConfig
	Snapshots     SnapshotsConfig
	Commands      CommandsConfig
	Queries       QueriesConfig
	Projections   map[string]ProjectionConfig
	Topics        map[string]TopicConfig
	Subscriptions map[string]SubscriptionConfig
	Processes     map[string]ProcessConfig
	DLQ           DLQConfig
	Log           LogConfig
	Metrics       MetricsConfig
	Health        HealthConfig
	Console       ConsoleConfig

	// schema is the schema c was made with; nil is the platform's alone.
	schema *Schema
	// sections holds the values of a program's own sections, by name.
	sections map[string]any
}

// spec is the schema c's sections and keys come from.
func (c *Config) spec() *Schema {
	if c.schema == nil {
		return platform
	}
	return c.schema
}

// NATSConfig is how the platform connects to NATS ([nats]).
type NATSConfig struct {
	// URL is one or more comma-separated server URLs; used when Server.Embedded is false
	// and by the client commands (send, query, events…).
	URL string
	// Credentials is the path of a .creds file (JWT + nkey seed).
	Credentials string
	// NKey is the path of an nkey seed file.
	NKey string
	// User and Password authenticate with a user/password pair.
	User     string
	Password string
	// TLSCert and TLSKey are the client certificate and key; TLSCA the CA bundle to trust.
	TLSCert string
	TLSKey  string
	TLSCA   string
}

// ServerConfig is the embedded NATS server ([server]).
type ServerConfig struct {
	// Embedded starts a NATS server inside the jetflow process.
	Embedded bool
	// Listen is the client address (host:port) of the embedded server.
	Listen string
	// StoreDir is where the embedded server keeps JetStream's files.
	StoreDir string
	// NATSConfig is a nats.conf loaded by the embedded server; Listen and StoreDir override it.
	NATSConfig string
	// InsecureAllowAnonymous lets a server without authentication listen
	// on an address other than loopback; serve refuses that otherwise.
	InsecureAllowAnonymous bool
	// SyncInterval is when JetStream fsyncs what it acknowledged:
	// "always", a duration, or "" for the server's default (every 2
	// minutes, or what NATSConfig says).
	SyncInterval string
}

// EventsConfig is the event store ([events]).
type EventsConfig struct {
	Stream             string
	SubjectPrefix      string
	Replicas           int
	MaxEventsPerAppend int
	// MaxConcurrentBatches caps this process's multi-event appends in
	// flight; the server allows 50 open batches per stream in all.
	MaxConcurrentBatches int
	DuplicateWindow      time.Duration
}

// SnapshotsConfig is the snapshot policy and bucket ([snapshots]).
type SnapshotsConfig struct {
	// Every takes a snapshot each Every events of an aggregate; 0 disables snapshots.
	Every  int
	Bucket string
}

// CommandsConfig is the command service ([commands]).
type CommandsConfig struct {
	Service       string
	SubjectPrefix string
	// Timeout bounds the handling of one command, and a client's wait for its reply.
	Timeout time.Duration
	// ConflictRetries is how often a command without an expected version is
	// decided again after a concurrency conflict.
	ConflictRetries int
	// CacheSize is the number of aggregates kept in memory; 0 disables the cache.
	CacheSize int
	// MaxPayload is the largest command body accepted, in bytes.
	MaxPayload int
	// Identity is where a command's user id comes from: IdentityAuto,
	// IdentityNATS or IdentityHeader (aggregates.IdentityMode).
	Identity string
}

// Identity modes of the command and query services (commands.identity,
// queries.identity).
const (
	IdentityAuto   = "auto"
	IdentityNATS   = "nats"
	IdentityHeader = "header"
)

// Webhook redirect policies (subscriptions.<name>.webhook_redirects).
const (
	RedirectsNone       = "none"
	RedirectsSameOrigin = "same_origin"
)

// QueriesConfig is the query service ([queries]).
type QueriesConfig struct {
	Service       string
	SubjectPrefix string
	Timeout       time.Duration
	// MinSequenceWait bounds how long a query with min_sequence waits for its read model.
	MinSequenceWait time.Duration
	// Identity is where a query's caller comes from, for the query
	// authorizer: IdentityAuto, IdentityNATS or IdentityHeader.
	Identity string
}

// ProjectionConfig overrides a projection's settings ([projections.<name>]).
type ProjectionConfig struct {
	// Bucket is the read model's KV bucket; "rm_<name>" by default.
	Bucket string
	// Subjects replaces the event subjects the projection follows; empty keeps the projection's own.
	Subjects []string
	// MaxInFlight bounds the read-model writes awaiting confirmation.
	MaxInFlight int
	// MaxRetries is how often a failing event is retried before the projection stops as failed.
	MaxRetries int
	// Backoff are the delays between retries; the last one repeats.
	Backoff []time.Duration
}

// TopicConfig is a message topic ([topics.<name>]): stream TOPIC_<NAME>, subjects topic.<name>.>.
type TopicConfig struct {
	// Retention is how long a message is kept (the stream's max age).
	Retention       time.Duration
	Replicas        int
	MaxRetries      int
	Backoff         []time.Duration
	DuplicateWindow time.Duration
}

// SubscriptionConfig is one durable subscription ([subscriptions.<name>]);
// the name is the durable consumer's name.
type SubscriptionConfig struct {
	// Topic subscribes to a topic; when empty, Subjects are event subjects on the event stream.
	Topic string
	// Subjects filter server-side: for a topic, keys under its priority token
	// ("order.*" selects topic.<topic>.<priority>.order.*); otherwise the
	// event subjects to follow ("events.user.>").
	Subjects []string
	// Mode is ModeQueue or ModePubSub.
	Mode    string
	Filter  FilterConfig
	Webhook WebhookConfig
	// Concurrency is the number of messages a worker handles at once.
	Concurrency int
	// MaxRetries is -1 (InheritRetries) to use the topic's max_retries.
	MaxRetries int
	// Backoff is empty to use the topic's backoff.
	Backoff []time.Duration
}

// ProcessConfig configures a process manager ([processes.<name>]).
type ProcessConfig struct {
	// Bucket holds the instances; "proc_<name>" by default.
	Bucket string
	// DeadlineTopic is the topic deadlines are scheduled on.
	DeadlineTopic string
	// KeepEnded is how long an ended instance's record stays; 0 removes it.
	KeepEnded time.Duration
	// RememberEnded is how long a removed instance is still known as ended.
	RememberEnded time.Duration
	// Concurrency bounds the messages the manager handles at once.
	Concurrency int
	// MaxRetries and Backoff retry a failing message before it is dead-lettered.
	MaxRetries int
	Backoff    []time.Duration
}

// InheritRetries in SubscriptionConfig.MaxRetries takes the topic's max_retries.
const InheritRetries = -1

// FilterConfig is a payload filter; it is off while Field is empty.
type FilterConfig struct {
	// Field is a dotted path into the JSON payload.
	Field string
	// Op is one of the Op* constants.
	Op string
	// Value is a string, int64, float64 or bool; numbers compare as numbers.
	Value any
}

// WebhookConfig is the built-in webhook handler; it is off while URL is empty.
type WebhookConfig struct {
	URL     string
	Timeout time.Duration
	// Secret signs every call (Standard Webhooks: webhook-id,
	// webhook-timestamp, webhook-signature); empty sends them unsigned.
	Secret string
	// Headers are "Name: value" lines added to every call.
	Headers []string
	// Redirects is RedirectsNone or RedirectsSameOrigin.
	Redirects string
}

// DLQConfig is the dead-letter queue ([dlq]).
type DLQConfig struct {
	Enabled bool
	Stream  string
	// Retention is how long dead letters are kept.
	Retention time.Duration
	Replicas  int
}

// LogConfig is logging ([log]).
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string
	// Format is text or json.
	Format string
}

// MetricsConfig is the Prometheus endpoint ([metrics]).
type MetricsConfig struct {
	// Listen is the address of /metrics; empty disables it.
	Listen string
}

// HealthConfig is the health endpoints ([health]).
type HealthConfig struct {
	// Listen is the address of /healthz and /readyz; empty serves them beside /metrics.
	Listen string
	// MaxProjectionLag is the pending events past which a projection makes /readyz fail; 0 ignores lag.
	MaxProjectionLag int
}

// ConsoleConfig is the web console ([console]).
type ConsoleConfig struct {
	// Enabled serves the console at /ui/; it is off by default because it
	// can change things (rebuilds, replays, commands).
	Enabled bool
	// Listen is the console's own address; empty serves it on the metrics address.
	Listen string
	// Token is the secret an operator logs in with; required unless the
	// console listens on loopback only.
	Token string
}

// Default returns every setting at its default: the wire contract's names
// (DESIGN.md) on a single embedded server.
func Default() Config {
	return Config{
		NATS: NATSConfig{URL: "nats://127.0.0.1:4222"},
		Server: ServerConfig{
			Embedded: true,
			Listen:   "127.0.0.1:4222",
			StoreDir: "./data",
		},
		Events: EventsConfig{
			Stream:               streams.DefaultEventStream,
			SubjectPrefix:        streams.DefaultSubjectPrefix,
			Replicas:             1,
			MaxEventsPerAppend:   streams.MaxBatchEvents,
			MaxConcurrentBatches: streams.DefaultMaxConcurrentBatches,
			DuplicateWindow:      streams.DefaultDuplicateWindow,
		},
		Snapshots: SnapshotsConfig{Every: 10, Bucket: streams.DefaultSnapshotBucket},
		Commands: CommandsConfig{
			Service:         "jetflow-commands",
			SubjectPrefix:   "cmd",
			Timeout:         5 * time.Second,
			ConflictRetries: 10,
			CacheSize:       10000,
			MaxPayload:      1 << 20,
			Identity:        IdentityAuto,
		},
		Queries: QueriesConfig{
			Service:         "jetflow-queries",
			SubjectPrefix:   "query",
			Timeout:         5 * time.Second,
			MinSequenceWait: 2 * time.Second,
			Identity:        IdentityAuto,
		},
		DLQ:     DLQConfig{Enabled: true, Stream: "DLQ", Retention: 30 * 24 * time.Hour, Replicas: 1},
		Log:     LogConfig{Level: "info", Format: "text"},
		Metrics: MetricsConfig{Listen: "127.0.0.1:9464"},
		Health:  HealthConfig{MaxProjectionLag: 10000},
	}
}

// DefaultProjection is the configuration of a projection named name that no
// [projections.<name>] section mentions.
func DefaultProjection(name string) ProjectionConfig {
	return ProjectionConfig{
		Bucket:      "rm_" + name,
		MaxInFlight: 4096,
		MaxRetries:  5,
		Backoff:     []time.Duration{500 * time.Millisecond, 2 * time.Second, 10 * time.Second},
	}
}

// DefaultTopic is the configuration of a topic that no [topics.<name>] section mentions.
func DefaultTopic() TopicConfig {
	return TopicConfig{
		Retention:       7 * 24 * time.Hour,
		Replicas:        1,
		MaxRetries:      3,
		Backoff:         []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
		DuplicateWindow: 2 * time.Minute,
	}
}

// DefaultProcess is the configuration of a process manager named name that
// no [processes.<name>] section mentions.
func DefaultProcess(name string) ProcessConfig {
	return ProcessConfig{
		Bucket:        processes.Bucket(name),
		DeadlineTopic: processes.DefaultDeadlineTopic,
		RememberEnded: processes.DefaultRememberEnded,
		Concurrency:   processes.DefaultConcurrency,
		MaxRetries:    3,
		Backoff:       []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
	}
}

// DefaultSubscription is what a [subscriptions.<name>] section starts from.
func DefaultSubscription() SubscriptionConfig {
	return SubscriptionConfig{
		Mode:        ModeQueue,
		Webhook:     WebhookConfig{Timeout: 10 * time.Second, Redirects: RedirectsNone},
		Concurrency: 1,
		MaxRetries:  InheritRetries,
	}
}

// Projection returns the configuration of the projection name: its
// [projections.<name>] section, or the defaults when it has none.
func (c Config) Projection(name string) ProjectionConfig {
	if p, ok := c.Projections[name]; ok {
		return p
	}
	return DefaultProjection(name)
}

// Topic returns the configuration of the topic name: its [topics.<name>]
// section, or the defaults when it has none.
func (c Config) Topic(name string) TopicConfig {
	if t, ok := c.Topics[name]; ok {
		return t
	}
	return DefaultTopic()
}

// Process returns the configuration of the process manager name: its
// [processes.<name>] section, or the defaults when it has none.
func (c Config) Process(name string) ProcessConfig {
	if p, ok := c.Processes[name]; ok {
		return p
	}
	return DefaultProcess(name)
}

// Subscription returns the subscription name with its retry settings
// resolved: max_retries and backoff left unset come from its topic (or, for
// a subscription to event subjects, from DefaultTopic).
func (c Config) Subscription(name string) (SubscriptionConfig, bool) {
	s, ok := c.Subscriptions[name]
	if !ok {
		return SubscriptionConfig{}, false
	}
	t := DefaultTopic()
	if s.Topic != "" {
		t = c.Topic(s.Topic)
	}
	if s.MaxRetries == InheritRetries {
		s.MaxRetries = t.MaxRetries
	}
	if len(s.Backoff) == 0 {
		s.Backoff = t.Backoff
	}
	return s, true
}

// redacted replaces a secret in Redacted's copy.
const redacted = "<redacted>"

// Redacted returns c with its secrets replaced by a marker, for printing:
// the keys tagged secret (nats.password, webhook secrets, the values of
// webhook headers, and the secret keys of a program's sections) become
// <redacted>, and the URL keys (nats.url, webhook URLs) lose their
// passwords and query values. Paths to credential files are not secrets.
func (c Config) Redacted() Config {
	for _, sec := range c.spec().sections {
		entries := []string{""}
		if sec.named {
			entries = sec.entries(c)
		}
		for _, entry := range entries {
			var section any
			for _, k := range sec.keys {
				if !k.secret && !k.url {
					continue
				}
				if section == nil {
					section = sec.read(&c, entry)
				}
				redactKey(k, k.ptr(section))
			}
			if section != nil {
				sec.write(&c, entry, section)
			}
		}
	}
	return c
}

// redactKey redacts one key's value in place; slices are replaced, never
// written into, since the Config they came from shares them.
func redactKey(k keySpec, ptr any) {
	switch p := ptr.(type) {
	case *string:
		switch {
		case *p == "":
		case k.secret:
			*p = redacted
		case k.url:
			*p = redactURL(k, *p)
		}
	case *[]string:
		if !k.secret || len(*p) == 0 {
			return
		}
		out := make([]string, len(*p))
		for i, v := range *p {
			// A header keeps its name: "Authorization: <redacted>".
			if name, _, ok := strings.Cut(v, ":"); ok {
				out[i] = name + ": " + redacted
			} else {
				out[i] = redacted
			}
		}
		*p = out
	}
}

// redactURL redacts the value of a URL key: nats.url holds NATS URLs,
// the others (webhook_url) one URL each.
func redactURL(k keySpec, v string) string {
	if k.name == "url" {
		return RedactNATSURLs(v)
	}
	return logctx.RedactURL(v)
}

// RedactNATSURLs redacts a comma-separated list of NATS URLs (nats.url)
// for printing, keeping the spacing: passwords and query values become
// xxxxx (logctx.RedactURL), and so does a user without a password, which
// nats.go sends as a token. A URL without a scheme is read as nats.go
// reads it, as nats://.
func RedactNATSURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, part := range parts {
		raw := strings.TrimSpace(part)
		full := raw
		if !strings.Contains(raw, "://") {
			full = "nats://" + raw
		}
		red := logctx.RedactURL(full)
		if u, err := url.Parse(full); err == nil && u.User != nil {
			if _, has := u.User.Password(); !has && u.User.Username() != "" {
				u.User = url.User("xxxxx")
				red = logctx.RedactURL(u.String())
			}
		}
		if full != raw {
			red = strings.TrimPrefix(red, "nats://")
		}
		parts[i] = strings.Replace(part, raw, red, 1)
	}
	return strings.Join(parts, ",")
}

// SlogLevel is Level as a slog.Level; an unknown level (which Validate
// rejects) reads as info.
func (l LogConfig) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// ConsoleListen is the address that serves the console: Console.Listen,
// or the metrics address when it is empty ("" when both are).
func (c Config) ConsoleListen() string {
	if c.Console.Listen != "" {
		return c.Console.Listen
	}
	return c.Metrics.Listen
}

// HealthListen is the address that serves /healthz and /readyz: Health.Listen,
// or the metrics address when it is empty. Empty means no health endpoints.
func (c Config) HealthListen() string {
	if c.Health.Listen != "" {
		return c.Health.Listen
	}
	return c.Metrics.Listen
}
