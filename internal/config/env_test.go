package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jetflow.tsk")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPrecedence: flag > JETFLOW_* environment > file > default, for a
// plain key and for a key of a named entry.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      bool
		env, flag bool
		want      int
	}{
		{"default", false, false, false, 1},
		{"file over default", true, false, false, 2},
		{"env over default", false, true, false, 3},
		{"env over file", true, true, false, 3},
		{"flag over default", false, false, true, 4},
		{"flag over file", true, false, true, 4},
		{"flag over env", false, true, true, 4},
		{"flag over env over file", true, true, true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path, env := "", []string{"HOME=/x"}
			if tt.file {
				path = writeFile(t, "[events]\nreplicas: 2\n[topics.orders]\nreplicas: 2\n")
			}
			if tt.env {
				env = append(env, "JETFLOW_EVENTS_REPLICAS=3", "JETFLOW_TOPICS_ORDERS_REPLICAS=3")
			}
			cfg, err := Load(path, env)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if tt.flag {
				for _, key := range []string{"events.replicas", "topics.orders.replicas"} {
					if err := cfg.Set(key, "4"); err != nil {
						t.Fatalf("Set(%s): %v", key, err)
					}
				}
			}
			if got := cfg.Events.Replicas; got != tt.want {
				t.Errorf("events.replicas = %d, want %d", got, tt.want)
			}
			if got := cfg.Topic("orders").Replicas; got != tt.want {
				t.Errorf("topics.orders.replicas = %d, want %d", got, tt.want)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestEnvNames(t *testing.T) {
	t.Parallel()
	file := "[subscriptions.big-orders]\ntopic: \"orders\"\n[projections.user_list]\n"
	tests := []struct {
		env   string
		check func(Config) any
		want  any
	}{
		{"JETFLOW_NATS_URL=nats://a:4222,nats://b:4222", func(c Config) any { return c.NATS.URL }, "nats://a:4222,nats://b:4222"},
		{"JETFLOW_SERVER_EMBEDDED=false", func(c Config) any { return c.Server.Embedded }, false},
		{"JETFLOW_EVENTS_MAX_EVENTS_PER_APPEND=500", func(c Config) any { return c.Events.MaxEventsPerAppend }, 500},
		{"JETFLOW_QUERIES_MIN_SEQUENCE_WAIT=750ms", func(c Config) any { return c.Queries.MinSequenceWait }, 750 * time.Millisecond},
		{"JETFLOW_LOG_LEVEL=debug", func(c Config) any { return c.Log.Level }, "debug"},
		{"JETFLOW_HEALTH_MAX_PROJECTION_LAG=5", func(c Config) any { return c.Health.MaxProjectionLag }, 5},
		// Named entries whose names hold '_' or '-': the existing entry is found.
		{"JETFLOW_SUBSCRIPTIONS_BIG_ORDERS_MAX_RETRIES=9", func(c Config) any { return c.Subscriptions["big-orders"].MaxRetries }, 9},
		{"JETFLOW_SUBSCRIPTIONS_BIG_ORDERS_FILTER_VALUE=42", func(c Config) any { return c.Subscriptions["big-orders"].Filter.Value }, int64(42)},
		{`JETFLOW_SUBSCRIPTIONS_BIG_ORDERS_FILTER_VALUE="42"`, func(c Config) any { return c.Subscriptions["big-orders"].Filter.Value }, "42"},
		{"JETFLOW_SUBSCRIPTIONS_BIG_ORDERS_FILTER_VALUE=gold tier", func(c Config) any { return c.Subscriptions["big-orders"].Filter.Value }, "gold tier"},
		{"JETFLOW_PROJECTIONS_USER_LIST_MAX_IN_FLIGHT=8", func(c Config) any { return c.Projections["user_list"].MaxInFlight }, 8},
		{"JETFLOW_PROJECTIONS_USER_LIST_SUBJECTS=events.user.>, events.team.>", func(c Config) any { return c.Projections["user_list"].Subjects }, []string{"events.user.>", "events.team.>"}},
		{`JETFLOW_PROJECTIONS_USER_LIST_BACKOFF=["1s", "2s"]`, func(c Config) any { return c.Projections["user_list"].Backoff }, []time.Duration{time.Second, 2 * time.Second}},
		{"JETFLOW_PROJECTIONS_USER_LIST_BACKOFF=", func(c Config) any { return c.Projections["user_list"].Backoff }, []time.Duration(nil)},
		// A new entry is created, named in lower case.
		{"JETFLOW_TOPICS_PAYMENTS_DUPLICATE_WINDOW=1m", func(c Config) any { return c.Topics["payments"].DuplicateWindow }, time.Minute},
		// The file's path is not a setting.
		{"JETFLOW_CONFIG=/etc/jetflow.tsk", func(c Config) any { return c.Events.Replicas }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(writeFile(t, file), []string{tt.env})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := tt.check(cfg); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env      string
		want     string
		sentinel error
	}{
		{"JETFLOW_EVENTS_REPLICA=3", "JETFLOW_EVENTS_REPLICA: unknown variable; did you mean JETFLOW_EVENTS_REPLICAS?", ErrUnknownKey},
		{"JETFLOW_EVENT_REPLICAS=3", "JETFLOW_EVENT_REPLICAS: unknown variable; did you mean JETFLOW_EVENTS_REPLICAS?", ErrUnknownKey},
		{"JETFLOW_TOPICS_ORDERS_REPLICA=3", "JETFLOW_TOPICS_ORDERS_REPLICA: unknown variable; did you mean JETFLOW_TOPICS_ORDERS_REPLICAS?", ErrUnknownKey},
		{"JETFLOW_NOTHING_LIKE_IT=1", "JETFLOW_NOTHING_LIKE_IT: unknown variable", ErrUnknownKey},
		{"JETFLOW_EVENTS_REPLICAS=three", `environment JETFLOW_EVENTS_REPLICAS: events.replicas: expected an integer, found text "three"`, ErrType},
		{"JETFLOW_SERVER_EMBEDDED=perhaps", `environment JETFLOW_SERVER_EMBEDDED: server.embedded: expected true or false, found text "perhaps"`, ErrType},
		{"JETFLOW_COMMANDS_TIMEOUT=5", `environment JETFLOW_COMMANDS_TIMEOUT: commands.timeout: expected a duration such as "500ms", "5s" or "1h30m", found text "5"`, ErrType},
		{"JETFLOW_TOPICS_T_BACKOFF=1s, later", `environment JETFLOW_TOPICS_T_BACKOFF: topics.t.backoff: element 2: expected a duration such as "500ms", "5s" or "1h30m", found text "later"`, ErrType},
		{"JETFLOW_TOPICS_T_BACKOFF=[1s]", `environment JETFLOW_TOPICS_T_BACKOFF: topics.t.backoff: invalid array "[1s]": 1:2: unquoted duration 1s: durations are strings, write "1s"`, ErrType},
		{"JETFLOW_NATS_USER=\xff", `environment JETFLOW_NATS_USER: nats.user: value is not valid UTF-8`, ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Parallel()
			_, err := Load("", []string{tt.env})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error:\n got %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
		})
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	before := Default()
	before.Topics = map[string]TopicConfig{"a": DefaultTopic()}
	after := before
	if err := after.Set("topics.b.replicas", "3"); err != nil {
		t.Fatal(err)
	}
	if err := after.Set("topics.a.backoff", "2s"); err != nil {
		t.Fatal(err)
	}
	if _, ok := before.Topics["b"]; ok || len(before.Topics["a"].Backoff) != 3 {
		t.Errorf("Set changed a copy taken before it: %+v", before.Topics)
	}
	if after.Topics["b"].Replicas != 3 || !reflect.DeepEqual(after.Topics["a"].Backoff, []time.Duration{2 * time.Second}) {
		t.Errorf("Set: %+v", after.Topics)
	}
	if err := after.Set("projections.users.max_in_flight", "1_000"); err != nil || after.Projections["users"].MaxInFlight != 1000 || after.Projections["users"].Bucket != "rm_users" {
		t.Errorf("Set projections.users.max_in_flight: %v %+v", err, after.Projections)
	}
}

func TestSetErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, val string
		want     string
		sentinel error
	}{
		{"events.replica", "3", `events.replica: unknown key; did you mean "events.replicas"?`, ErrUnknownKey},
		{"event.replicas", "3", `event.replicas: unknown key; did you mean "events.replicas"?`, ErrUnknownKey},
		{"topics.orders.replica", "3", `topics.orders.replica: unknown key; did you mean "topics.orders.replicas"?`, ErrUnknownKey},
		{"topics.replicas", "3", `topics.replicas: unknown key; name the entry: topics.<name>.replicas`, ErrUnknownKey},
		{"events", "3", `events: unknown key`, ErrUnknownKey},
		{"events.replicas.x", "3", `events.replicas.x: unknown key; did you mean "events.replicas"?`, ErrUnknownKey},
		{"topics.a b.replicas", "3", `topics.a b.replicas: invalid name "a b": use letters, digits, '_' and '-'`, ErrUnknownKey},
		{"events.replicas", "3.5", `events.replicas: expected an integer, found text "3.5"`, ErrType},
		{"events.replicas", "99999999999999999999", `events.replicas: expected an integer, found text "99999999999999999999"`, ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			c := Default()
			err := c.Set(tt.key, tt.val)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error:\n got %v\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Key != tt.key {
				t.Errorf("FieldError.Key = %#v, want %q", fe, tt.key)
			}
		})
	}
}

// TestEnvNameOfEveryKey: every key's variable maps back to the key, also
// for an entry whose name holds '_' (the split is ambiguous there).
func TestEnvNameOfEveryKey(t *testing.T) {
	t.Parallel()
	for _, k := range Keys() {
		if k.Env != EnvName(k.Name) {
			t.Errorf("%s: Env %s, EnvName %s", k.Name, k.Env, EnvName(k.Name))
		}
		name := strings.Replace(k.Name, ".<name>.", ".a_b.", 1)
		c := Default()
		got, err := c.envKey(EnvName(name))
		if err != nil || got != name {
			t.Errorf("envKey(%s) = %q, %v; want %q", EnvName(name), got, err, name)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.tsk"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Parallel()
	if got := DefaultPath([]string{"JETFLOW_CONFIG=/etc/jetflow/prod.tsk"}); got != "/etc/jetflow/prod.tsk" {
		t.Errorf("DefaultPath with JETFLOW_CONFIG = %q", got)
	}
	// The package directory has no jetflow.tsk.
	if got := DefaultPath(nil); got != "" {
		t.Errorf("DefaultPath without a file = %q, want empty", got)
	}
}
