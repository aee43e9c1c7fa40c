package config

import (
	"maps"
	"time"
)

// The schema lists every section and key once, in the order documents are
// printed. Decoding, Set, the JETFLOW_* names, Encode and the reference
// (jetflow.tsk, docs/configuration.md) all read it, so a key added here is
// everywhere at once. It is built by a function, not filled by init().

// keySpec is one setting of a section.
type keySpec struct {
	name string
	doc  string
	// secret keys are printed as <redacted> (Config.Redacted), and their
	// values never appear in errors.
	secret bool
	// url keys hold URLs whose passwords and query values Redacted hides.
	url bool
	// ptr returns a pointer to the field inside a pointer to the section value.
	ptr func(section any) any
}

// sectionSpec is a [section], or a family of [section.name] entries.
type sectionSpec struct {
	name  string
	doc   string
	named bool
	keys  []keySpec
	// read returns a pointer to the section, or to a copy of entry name
	// (its defaults when the Config has no such entry).
	read func(c *Config, name string) any
	// write stores what read returned once it changed (named entries only).
	write func(c *Config, name string, section any)
	// entries lists the names of a named section's entries, sorted.
	entries func(c Config) []string
	// def returns a pointer to the section's (or entry name's) defaults.
	def func(name string) any
	// validate, for a program's own section, checks its value (Section.Validate).
	validate func(v any) error
	// extra marks a program's own section: Encode documents its keys, since
	// no reference file does.
	extra bool
}

func (s sectionSpec) key(name string) (keySpec, bool) {
	for _, k := range s.keys {
		if k.name == name {
			return k, true
		}
	}
	return keySpec{}, false
}

func (s sectionSpec) keyNames() []string {
	names := make([]string, len(s.keys))
	for i, k := range s.keys {
		names[i] = k.name
	}
	return names
}

func field[T any](name, doc string, ptr func(*T) any) keySpec {
	return keySpec{name: name, doc: doc, ptr: func(s any) any { return ptr(s.(*T)) }}
}

func secretField[T any](name, doc string, ptr func(*T) any) keySpec {
	k := field(name, doc, ptr)
	k.secret = true
	return k
}

// urlField is a key holding URLs, which may carry credentials.
func urlField[T any](name, doc string, ptr func(*T) any) keySpec {
	k := field(name, doc, ptr)
	k.url = true
	return k
}

func plain[T any](name, doc string, sel func(*Config) *T, keys ...keySpec) sectionSpec {
	return sectionSpec{
		name: name, doc: doc, keys: keys,
		read:  func(c *Config, _ string) any { return sel(c) },
		write: func(*Config, string, any) {},
		def: func(string) any {
			d := Default()
			return sel(&d)
		},
	}
}

func named[T any](name, doc string, sel func(*Config) *map[string]T, def func(name string) T, keys ...keySpec) sectionSpec {
	return sectionSpec{
		name: name, doc: doc, named: true, keys: keys,
		read: func(c *Config, entry string) any {
			if v, ok := (*sel(c))[entry]; ok {
				return &v
			}
			v := def(entry)
			return &v
		},
		write: func(c *Config, entry string, section any) {
			// Clone so that a Config copied before this write keeps its own map.
			m := maps.Clone(*sel(c))
			if m == nil {
				m = map[string]T{}
			}
			m[entry] = *section.(*T)
			*sel(c) = m
		},
		entries: func(c Config) []string { return mapKeys(*sel(&c)) },
		def: func(entry string) any {
			v := def(entry)
			return &v
		},
	}
}

// Schema is the sections a configuration has: the platform's own and,
// after them, those a program adds (NewSchema). A Config remembers the
// schema it was made with, so that Set, ApplyEnv, Validate and Encode know
// the program's sections too.
type Schema struct {
	sections []sectionSpec
}

// platform is the platform's own sections: built once from code, never
// added to.
var platform = &Schema{sections: buildSchema()}

func (sc *Schema) lookup(name string) (sectionSpec, bool) {
	for _, sec := range sc.sections {
		if sec.name == name {
			return sec, true
		}
	}
	return sectionSpec{}, false
}

func (sc *Schema) names() []string {
	names := make([]string, len(sc.sections))
	for i, sec := range sc.sections {
		names[i] = sec.name
	}
	return names
}

func buildSchema() []sectionSpec {
	type (
		nats = NATSConfig
		srv  = ServerConfig
		ev   = EventsConfig
		snap = SnapshotsConfig
		cmd  = CommandsConfig
		qry  = QueriesConfig
		proj = ProjectionConfig
		top  = TopicConfig
		sub  = SubscriptionConfig
		proc = ProcessConfig
		dlq  = DLQConfig
		lg   = LogConfig
		met  = MetricsConfig
		hl   = HealthConfig
		con  = ConsoleConfig
	)
	return []sectionSpec{
		plain("nats", "How jetflow connects to NATS.",
			func(c *Config) *nats { return &c.NATS },
			urlField("url", "NATS server URL(s), comma-separated: used by serve and worker when server.embedded is false, and by the client commands.", func(s *nats) any { return &s.URL }),
			field("credentials", "Path of a .creds file (user JWT and nkey seed).", func(s *nats) any { return &s.Credentials }),
			field("nkey", "Path of an nkey seed file.", func(s *nats) any { return &s.NKey }),
			field("user", "User name, with password.", func(s *nats) any { return &s.User }),
			secretField("password", `Password of user; keep it out of the file with @env("NATS_PASSWORD").`, func(s *nats) any { return &s.Password }),
			field("tls_cert", "Client certificate (PEM), with tls_key.", func(s *nats) any { return &s.TLSCert }),
			field("tls_key", "Client private key (PEM), with tls_cert.", func(s *nats) any { return &s.TLSKey }),
			field("tls_ca", "CA certificates (PEM) that sign the server's certificate.", func(s *nats) any { return &s.TLSCA }),
		),
		plain("server", "The NATS server embedded in the jetflow process.",
			func(c *Config) *srv { return &c.Server },
			field("embedded", "Run a NATS server with JetStream inside jetflow; false connects to nats.url instead.", func(s *srv) any { return &s.Embedded }),
			field("listen", "Client address (host:port) of the embedded server.", func(s *srv) any { return &s.Listen }),
			field("store_dir", "Directory of the embedded server's JetStream files.", func(s *srv) any { return &s.StoreDir }),
			field("nats_config", "A nats.conf for the embedded server (accounts, limits, sync_interval); listen and store_dir override it.", func(s *srv) any { return &s.NATSConfig }),
			field("insecure_allow_anonymous", "Let a server without authentication (no nats_config with users) listen beyond loopback: anyone who reaches it may rewrite or delete the event store. Off, serve refuses that.", func(s *srv) any { return &s.InsecureAllowAnonymous }),
			field("sync_interval", `When the embedded server fsyncs what it acknowledged: "always" (before every acknowledgement: an acknowledged event survives a power loss; README "Reliability" measures the cost), a duration, or "" for the server's default of every 2 minutes (nats_config's sync_interval when it sets one).`, func(s *srv) any { return &s.SyncInterval }),
		),
		plain("events", "The event store.",
			func(c *Config) *ev { return &c.Events },
			field("stream", "Stream that holds every event.", func(s *ev) any { return &s.Stream }),
			field("subject_prefix", "First token(s) of every event subject: <prefix>.<aggregate_type>.<aggregate_id>.", func(s *ev) any { return &s.SubjectPrefix }),
			field("replicas", "Replicas of the event stream and the snapshot bucket: 1 standalone, 3 in a cluster.", func(s *ev) any { return &s.Replicas }),
			field("max_events_per_append", "Most events one append may write as one commit (at most 1000; the commit must also fit the server's max_payload).", func(s *ev) any { return &s.MaxEventsPerAppend }),
			field("max_concurrent_batches", "Deprecated, no effect: it bounded multi-event appends when they were atomic batches; a commit is now one message. Still accepted so that existing files load.", func(s *ev) any { return &s.MaxConcurrentBatches }),
			field("duplicate_window", "How long JetStream remembers commit ids (a commit's first event id), so that a retried append is stored once.", func(s *ev) any { return &s.DuplicateWindow }),
		),
		plain("snapshots", "Aggregate snapshots.",
			func(c *Config) *snap { return &c.Snapshots },
			field("every", "Snapshot an aggregate every N events; 0 disables snapshots.", func(s *snap) any { return &s.Every }),
			field("bucket", "KV bucket of snapshots (letters, digits, - and _), key <aggregate_type>.<aggregate_id>, or <aggregate_type>.b64.<base64url id> for ids a KV key cannot hold.", func(s *snap) any { return &s.Bucket }),
		),
		plain("commands", "The command service.",
			func(c *Config) *cmd { return &c.Commands },
			field("service", "Name of the NATS micro service (what `nats micro ls` shows).", func(s *cmd) any { return &s.Service }),
			field("subject_prefix", "Endpoints are <prefix>.<aggregate_type>.<command>.", func(s *cmd) any { return &s.SubjectPrefix }),
			field("timeout", "Bound on handling one command, and on a client's wait for its reply.", func(s *cmd) any { return &s.Timeout }),
			field("conflict_retries", "Times a command without an expected version is decided again after a concurrency conflict.", func(s *cmd) any { return &s.ConflictRetries }),
			field("cache_size", "Aggregates kept in memory between commands; 0 disables the cache.", func(s *cmd) any { return &s.CacheSize }),
			field("max_payload", "Largest command body accepted, in bytes; a larger one is answered 400.", func(s *cmd) any { return &s.MaxPayload }),
			field("identity", "Where a command's user id (Jetflow-User-Id of its events) comes from: nats, the user the NATS server authenticated (stamped on requests from other accounts); header, the client's Jetflow-User-Id as sent; auto, nats when the server requires authentication, else header.", func(s *cmd) any { return &s.Identity }),
		),
		plain("queries", "The query service.",
			func(c *Config) *qry { return &c.Queries },
			field("service", "Name of the NATS micro service.", func(s *qry) any { return &s.Service }),
			field("subject_prefix", "Endpoints are <prefix>.<read_model>.<query>.", func(s *qry) any { return &s.SubjectPrefix }),
			field("timeout", "Bound on answering one query.", func(s *qry) any { return &s.Timeout }),
			field("min_sequence_wait", "Longest wait of a query with min_sequence for its read model; past it the reply is 504.", func(s *qry) any { return &s.MinSequenceWait }),
			field("identity", "Where the caller a query authorizer sees comes from: nats, the user the NATS server authenticated (stamped on requests from other accounts); header, the client's Jetflow-User-Id as sent; auto, nats when the server requires authentication, else header.", func(s *qry) any { return &s.Identity }),
		),
		named("projections", "One section per projection (read model); a projection without one runs with the defaults.",
			func(c *Config) *map[string]proj { return &c.Projections }, DefaultProjection,
			field("bucket", "KV bucket of the read model.", func(s *proj) any { return &s.Bucket }),
			field("subjects", "Event subjects the projection follows; empty keeps the projection's own.", func(s *proj) any { return &s.Subjects }),
			field("max_in_flight", "Read-model writes awaiting confirmation at once.", func(s *proj) any { return &s.MaxInFlight }),
			field("max_retries", "Retries of a failing event before the projection stops as failed.", func(s *proj) any { return &s.MaxRetries }),
			field("backoff", "Delays between those retries; the last one repeats.", func(s *proj) any { return &s.Backoff }),
		),
		named("topics", "One section per message topic: stream TOPIC_<NAME>, subjects topic.<name>.>. A topic without one gets the defaults.",
			func(c *Config) *map[string]top { return &c.Topics }, func(string) top { return DefaultTopic() },
			field("retention", "How long a message is kept (the stream's max age), consumed or not; dead letters can show and replay originals only within it.", func(s *top) any { return &s.Retention }),
			field("replicas", "Replicas of the topic's stream.", func(s *top) any { return &s.Replicas }),
			field("max_retries", "Retries of a failing message before it is dead-lettered; subscriptions inherit it.", func(s *top) any { return &s.MaxRetries }),
			field("backoff", "Delays between retries, the last one repeating; subscriptions inherit it.", func(s *top) any { return &s.Backoff }),
			field("duplicate_window", "How long message ids are remembered for deduplication.", func(s *top) any { return &s.DuplicateWindow }),
		),
		named("subscriptions", "One section per durable subscription, run by `jetflow worker`; the name is the consumer's.",
			func(c *Config) *map[string]sub { return &c.Subscriptions }, func(string) sub { return DefaultSubscription() },
			field("topic", "Topic to consume; empty consumes event subjects on the event stream instead.", func(s *sub) any { return &s.Topic }),
			field("subjects", `Server-side filter: for a topic, keys under the priority token ("order.*" selects topic.<topic>.<priority>.order.*), empty for all; without a topic, the event subjects to follow ("events.user.>").`, func(s *sub) any { return &s.Subjects }),
			field("mode", "queue: the workers running it share the messages, each handled once; pubsub: every worker gets every message.", func(s *sub) any { return &s.Mode }),
			field("filter_field", "Payload filter: dotted path into the JSON body; empty disables the filter.", func(s *sub) any { return &s.Filter.Field }),
			field("filter_op", "Payload filter operator: equals, not_equals, contains, greater_than or less_than.", func(s *sub) any { return &s.Filter.Op }),
			field("filter_value", "Payload filter operand: numbers compare as numbers, strings as strings.", func(s *sub) any { return &s.Filter.Value }),
			urlField("webhook_url", "POST each message to this URL: 2xx acks, 4xx (but 408, 429) dead-letters, the rest retries.", func(s *sub) any { return &s.Webhook.URL }),
			field("webhook_timeout", "Bound on one webhook call.", func(s *sub) any { return &s.Webhook.Timeout }),
			secretField("webhook_secret", `Signs every call (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature headers, HMAC-SHA256); "whsec_" + base64, or any other text used as it is. Keep it out of the file: @file("/run/secrets/hook") or @env("HOOK_SECRET"). Empty: unsigned.`, func(s *sub) any { return &s.Webhook.Secret }),
			secretField("webhook_headers", `Headers added to every call, "Name: value" each; elements may be @env("NAME") or @file("path").`, func(s *sub) any { return &s.Webhook.Headers }),
			field("webhook_redirects", "none: a redirect answer is an error naming where it points; same_origin: 307 and 308 to the same scheme, host and port are followed.", func(s *sub) any { return &s.Webhook.Redirects }),
			field("concurrency", "Messages a worker handles at once.", func(s *sub) any { return &s.Concurrency }),
			field("max_retries", "Retries before dead-lettering; -1 takes the topic's.", func(s *sub) any { return &s.MaxRetries }),
			field("backoff", "Delays between retries, the last one repeating; empty takes the topic's.", func(s *sub) any { return &s.Backoff }),
		),
		named("processes", "One section per process manager (saga) a program registers; one without a section runs with the defaults.",
			func(c *Config) *map[string]proc { return &c.Processes }, DefaultProcess,
			field("bucket", "KV bucket of the manager's instances, key = the instance id (or = and its base64url).", func(s *proc) any { return &s.Bucket }),
			field("deadline_topic", "Topic the manager schedules its deadlines on (created when missing); `jetflow schedules ls` lists them.", func(s *proc) any { return &s.DeadlineTopic }),
			field("keep_ended", "How long an ended instance's record stays readable (`jetflow processes show`); 0 removes it when it ends.", func(s *proc) any { return &s.KeepEnded }),
			field("remember_ended", "How long an ended, removed instance is still known as ended, so that a late event for it is skipped as such; after that an event that starts instances would start it again.", func(s *proc) any { return &s.RememberEnded }),
			field("concurrency", "Messages the manager handles at once in this process; one instance handles one at a time.", func(s *proc) any { return &s.Concurrency }),
			field("max_retries", "Retries of a failing message (handler error, command not delivered) before it is dead-lettered; the instance is left as it was.", func(s *proc) any { return &s.MaxRetries }),
			field("backoff", "Delays between those retries; the last one repeats.", func(s *proc) any { return &s.Backoff }),
		),
		plain("dlq", "The dead-letter queue.",
			func(c *Config) *dlq { return &c.DLQ },
			field("enabled", "Capture the MAX_DELIVERIES and MSG_TERMINATED advisories into the dead-letter stream.", func(s *dlq) any { return &s.Enabled }),
			field("stream", "Stream of dead letters.", func(s *dlq) any { return &s.Stream }),
			field("retention", "How long dead letters are kept.", func(s *dlq) any { return &s.Retention }),
			field("replicas", "Replicas of the dead-letter stream.", func(s *dlq) any { return &s.Replicas }),
		),
		plain("log", "Logging (slog).",
			func(c *Config) *lg { return &c.Log },
			field("level", "debug, info, warn or error.", func(s *lg) any { return &s.Level }),
			field("format", "text or json.", func(s *lg) any { return &s.Format }),
		),
		plain("metrics", "Prometheus metrics.",
			func(c *Config) *met { return &c.Metrics },
			field("listen", "Address (host:port) of /metrics; empty disables it.", func(s *met) any { return &s.Listen }),
		),
		plain("health", "Health checks.",
			func(c *Config) *hl { return &c.Health },
			field("listen", "Address (host:port) of /healthz and /readyz; empty serves them on the metrics address.", func(s *hl) any { return &s.Listen }),
			field("max_projection_lag", "Pending events past which a projection makes /readyz fail; 0 ignores lag.", func(s *hl) any { return &s.MaxProjectionLag }),
		),
		plain("console", "The web console of `jetflow serve` at /ui/: overview, aggregates, projections, dead letters, commands.",
			func(c *Config) *con { return &c.Console },
			field("enabled", "Serve the console; off by default, since it can rebuild projections, replay dead letters and send commands.", func(s *con) any { return &s.Enabled }),
			field("listen", "Address (host:port) of the console; empty serves it on the metrics address (metrics.listen).", func(s *con) any { return &s.Listen }),
			secretField("token", `Secret an operator logs in with (a bearer header, or the login form's cookie); required when the console listens on anything but loopback, at least 16 characters; keep it out of the file with @env("CONSOLE_TOKEN") or JETFLOW_CONSOLE_TOKEN.`, func(s *con) any { return &s.Token }),
		),
	}
}

// typeName names the type of a key's field in messages and the reference.
func typeName(ptr any) string {
	switch ptr.(type) {
	case *string:
		return "string"
	case *int, *int64:
		return "integer"
	case *float64:
		return "number"
	case *bool:
		return "boolean"
	case *time.Duration:
		return "duration"
	case *[]string:
		return "array of strings"
	case *[]time.Duration:
		return "array of durations"
	case *any:
		return "string, number or boolean"
	}
	return "unknown"
}
