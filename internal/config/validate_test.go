package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateAcceptsDefaultsAndExamples(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]Config{"default": Default(), "examples": exampleEntries()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestValidateNamesEachKey: every problem is reported at once, each as a
// *FieldError naming its key and matching ErrInvalid.
func TestValidateNamesEachKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  map[string]string
		edit func(*Config)
		want []string // keys with problems
	}{
		{name: "one range error", set: map[string]string{"events.replicas": "7"}, want: []string{"events.replicas"}},
		{
			name: "every plain section at once",
			set: map[string]string{
				"server.embedded": "false", "nats.url": "", "nats.password": "x", "nats.tls_cert": "c.pem",
				"events.stream": "EV.ENTS", "events.subject_prefix": "ev..x", "events.max_events_per_append": "1001", "events.max_concurrent_batches": "0",
				"events.duplicate_window": "10ms", "snapshots.every": "-1", "snapshots.bucket": "a b",
				"commands.service": "my service", "commands.timeout": "0s", "commands.conflict_retries": "-1",
				"commands.cache_size": "-5", "commands.max_payload": "0", "queries.timeout": "-1s",
				"queries.min_sequence_wait": "-1s", "dlq.stream": "", "dlq.replicas": "0", "dlq.retention": "0s",
				"log.level": "verbose", "log.format": "xml", "metrics.listen": "localhost", "health.listen": "x:99999",
				"health.max_projection_lag": "-1",
			},
			want: []string{
				"nats.url", "nats.password", "nats.tls_key", "events.stream", "events.subject_prefix",
				"events.max_events_per_append", "events.max_concurrent_batches", "events.duplicate_window", "snapshots.every", "snapshots.bucket",
				"commands.service", "commands.timeout", "commands.conflict_retries", "commands.cache_size",
				"commands.max_payload", "queries.timeout", "queries.min_sequence_wait", "dlq.stream", "dlq.replicas",
				"dlq.retention", "log.level", "log.format", "metrics.listen", "health.listen", "health.max_projection_lag",
			},
		},
		{
			name: "connection conflicts",
			set:  map[string]string{"nats.url": "http://x:4222", "nats.credentials": "a.creds", "nats.nkey": "s.nk", "nats.user": "u", "nats.tls_key": "k.pem"},
			want: []string{"nats.url", "nats.nkey", "nats.user", "nats.tls_cert"},
		},
		{
			name: "embedded server",
			set:  map[string]string{"server.listen": "4222", "server.store_dir": ""},
			want: []string{"server.listen", "server.store_dir"},
		},
		{
			name: "fsync policy",
			set:  map[string]string{"server.sync_interval": "sometimes"},
			want: []string{"server.sync_interval"},
		},
		{
			name: "fsync every 10s",
			set:  map[string]string{"server.sync_interval": "10s"},
		},
		{
			name: "fsync never is not a policy",
			set:  map[string]string{"server.sync_interval": "0s"},
			want: []string{"server.sync_interval"},
		},
		{
			// nats.go reads host:port, or a host alone, as nats://.
			name: "server URLs as nats.go takes them",
			set:  map[string]string{"nats.url": "127.0.0.1:4222, n2, tls://n3:4222, nats://u:p@n4:4222, ws://n5"},
		},
		{
			name: "external server ignores the embedded settings",
			set:  map[string]string{"server.embedded": "false", "server.listen": "nonsense", "server.store_dir": ""},
		},
		{
			// Names the server would refuse at start-up: KV bucket
			// characters, reserved subjects, an HTTP port of -1.
			name: "what provisioning would refuse",
			set: map[string]string{
				"snapshots.bucket": "snap:v1", "projections.p.bucket": "snäpshots", "projections.p.subjects": "$JS.API.>",
				"events.subject_prefix": "$JS.API", "commands.subject_prefix": "_INBOX", "queries.subject_prefix": "_JETFLOW_INBOX.q",
				"metrics.listen": "127.0.0.1:-1", "server.listen": "127.0.0.1:-1",
				"projections.q_g2.subjects": "$JS.API.>",
			},
			want: []string{"snapshots.bucket", "projections.p.bucket", "events.subject_prefix", "commands.subject_prefix", "queries.subject_prefix", "metrics.listen", "projections.q_g2.bucket"},
		},
		{
			name: "overlapping subject prefixes",
			set:  map[string]string{"commands.subject_prefix": "events", "queries.subject_prefix": "topic.x"},
			want: []string{"commands.subject_prefix", "queries.subject_prefix"},
		},
		{
			name: "projection",
			set: map[string]string{
				"projections.p.bucket": "jetflow_snapshots", "projections.p.subjects": "other.>, events..x",
				"projections.p.max_in_flight": "0", "projections.p.max_retries": "-1", "projections.p.backoff": "1s, 0s",
			},
			want: []string{"projections.p.bucket", "projections.p.subjects", "projections.p.subjects", "projections.p.max_in_flight", "projections.p.max_retries", "projections.p.backoff"},
		},
		{
			name: "topic",
			set: map[string]string{
				"topics.Orders.replicas": "1", "topics.t.retention": "1m", "topics.t.duplicate_window": "2m",
				"topics.t.replicas": "6", "topics.t.max_retries": "-1", "topics.t.backoff": "-1s",
			},
			want: []string{"topics.Orders", "topics.t.replicas", "topics.t.max_retries", "topics.t.backoff", "topics.t.duplicate_window"},
		},
		{
			name: "subscription",
			set: map[string]string{
				"subscriptions.s.mode": "broadcast", "subscriptions.s.filter_op": "equals",
				"subscriptions.s.webhook_url": "ftp://x", "subscriptions.s.webhook_timeout": "0s",
				"subscriptions.s.concurrency": "0", "subscriptions.s.max_retries": "-2", "subscriptions.s.backoff": "0s",
				"subscriptions.u.topic": "Orders", "subscriptions.u.subjects": "a..b",
				"subscriptions.v.subjects": "topic.orders.>", "subscriptions.v.filter_field": "a..b", "subscriptions.v.filter_op": "like",
			},
			want: []string{
				"subscriptions.s.topic", "subscriptions.s.mode", "subscriptions.s.filter_field", "subscriptions.s.webhook_url",
				"subscriptions.s.webhook_timeout", "subscriptions.s.concurrency", "subscriptions.s.max_retries", "subscriptions.s.backoff",
				"subscriptions.u.topic", "subscriptions.u.subjects",
				"subscriptions.v.subjects", "subscriptions.v.filter_op", "subscriptions.v.filter_value", "subscriptions.v.filter_field",
			},
		},
		{
			name: "console on loopback needs no token",
			set:  map[string]string{"console.enabled": "true"},
		},
		{
			name: "console on its own loopback address",
			set:  map[string]string{"console.enabled": "true", "console.listen": "[::1]:9470", "metrics.listen": "0.0.0.0:9464"},
		},
		{
			name: "console beyond loopback with a token",
			set:  map[string]string{"console.enabled": "true", "console.listen": ":9470", "console.token": "0123456789abcdef"},
		},
		{
			// The metrics address is every interface, and so the console's.
			name: "console beyond loopback without a token",
			set:  map[string]string{"console.enabled": "true", "metrics.listen": ":9464"},
			want: []string{"console.token"},
		},
		{
			name: "console on a name that may not be loopback, without a token",
			set:  map[string]string{"console.enabled": "true", "console.listen": "ops.example.com:9470"},
			want: []string{"console.token"},
		},
		{
			name: "console without an address",
			set:  map[string]string{"console.enabled": "true", "metrics.listen": ""},
			want: []string{"console.listen"},
		},
		{
			// Checked even while the console is off, so that turning it on
			// does not surprise.
			name: "console token too short, listen malformed",
			set:  map[string]string{"console.token": "short", "console.listen": "9470"},
			want: []string{"console.listen", "console.token"},
		},
		{
			name: "names set from Go",
			edit: func(c *Config) {
				c.Projections = map[string]ProjectionConfig{"-x": DefaultProjection("x"), strings.Repeat("a", 65): DefaultProjection("y")}
			},
			want: []string{"projections.-x", "projections." + strings.Repeat("a", 65)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			for key, val := range tt.set {
				if err := c.Set(key, val); err != nil {
					t.Fatalf("Set(%s): %v", key, err)
				}
			}
			if tt.edit != nil {
				tt.edit(&c)
			}
			err := c.Validate()
			var got []string
			if joined, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range joined.Unwrap() {
					var fe *FieldError
					if !errors.As(e, &fe) || !errors.Is(e, ErrInvalid) {
						t.Errorf("%v is not a *FieldError matching ErrInvalid", e)
						continue
					}
					if !strings.HasPrefix(e.Error(), fe.Key+": ") {
						t.Errorf("%q does not start with its key", e)
					}
					got = append(got, fe.Key)
				}
			} else if err != nil {
				t.Fatalf("Validate returned %T, want errors.Join's", err)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("problems with\n%v\nwant\n%v\nerror:\n%v", got, want, err)
			}
		})
	}
}

func TestValidateMessage(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Events.Replicas = 7
	c.Log.Level = "loud"
	want := "events.replicas: 7: must be 1 to 5\nlog.level: \"loud\": must be debug, info, warn or error"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant\n%s", err, want)
	}
}

func TestAccessors(t *testing.T) {
	t.Parallel()
	c := Default()
	for key, val := range map[string]string{
		"topics.orders.max_retries":   "7",
		"topics.orders.backoff":       "2s",
		"subscriptions.a.topic":       "orders",
		"subscriptions.b.topic":       "orders",
		"subscriptions.b.max_retries": "0",
		"subscriptions.b.backoff":     "9s",
		"subscriptions.c.subjects":    "events.>",
		"health.listen":               "",
		"metrics.listen":              ":9000",
		"log.level":                   "warn",
		"nats.password":               "secret",
	} {
		if err := c.Set(key, val); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := c.Subscription("a")
	b, _ := c.Subscription("b")
	ev, _ := c.Subscription("c")
	_, missing := c.Subscription("zzz")
	checks := []struct {
		name      string
		got, want any
	}{
		{"a inherits max_retries", a.MaxRetries, 7},
		{"a inherits backoff", a.Backoff[0], 2 * time.Second},
		{"b keeps its own max_retries", b.MaxRetries, 0},
		{"b keeps its own backoff", b.Backoff[0], 9 * time.Second},
		{"event subscription uses the default topic's", ev.MaxRetries, DefaultTopic().MaxRetries},
		{"unknown subscription", missing, false},
		{"configured topic", c.Topic("orders").MaxRetries, 7},
		{"unconfigured topic", c.Topic("other").Retention, DefaultTopic().Retention},
		{"unconfigured projection", c.Projection("users").Bucket, "rm_users"},
		{"health on the metrics address", c.HealthListen(), ":9000"},
		{"slog level", c.Log.SlogLevel().String(), "WARN"},
		{"redacted password", c.Redacted().NATS.Password, "<redacted>"},
		{"redaction leaves the original", c.NATS.Password, "secret"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// TestEmptyNATSURL: serve with the embedded server does not read nats.url,
// so Validate (serve's rule) takes an empty one; the client commands and
// the worker dial it whatever server.embedded says, so ValidateClient
// (theirs and `config check`'s) refuses it, naming the key and the fix.
func TestEmptyNATSURL(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Set("nats.url", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("serve with the embedded server and no nats.url: %v", err)
	}
	err := c.ValidateClient()
	var fe *FieldError
	if !errors.Is(err, ErrInvalid) || !errors.As(err, &fe) || fe.Key != "nats.url" || !strings.Contains(err.Error(), `"nats://127.0.0.1:4222"`) {
		t.Errorf("ValidateClient with no nats.url: %v", err)
	}
	// Without the embedded server it is one problem, said once.
	if err := c.Set("server.embedded", "false"); err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateClient(); err == nil || strings.Count(err.Error(), "nats.url") != 1 {
		t.Errorf("external server, no nats.url: %v", err)
	}
	if err := Default().ValidateClient(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

func TestListenIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:9464": true, "127.8.0.1:1": true, "[::1]:9464": true, "localhost:9464": true, "LocalHost:1": true,
		":9464": false, "0.0.0.0:9464": false, "[::]:9464": false, "10.0.0.1:9464": false, "example.com:1": false,
		"127.0.0.1": false, "": false,
	} {
		if got := ListenIsLoopback(addr); got != want {
			t.Errorf("ListenIsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
