package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		env  []string
		want func(*Config) // changes from Default()
	}{
		{name: "empty", src: "", want: func(*Config) {}},
		{name: "comments and blank lines", src: "# a comment\n\n   # indented\n\t\n", want: func(*Config) {}},
		{
			name: "colon and equals",
			src:  "[events]\nreplicas: 3\nstream = \"ORDERS\"\n",
			want: func(c *Config) { c.Events.Replicas = 3; c.Events.Stream = "ORDERS" },
		},
		{
			name: "no spaces, trailing comment, no final newline",
			src:  "[events]\nreplicas:3 # three\nsubject_prefix=\"acme.events\"",
			want: func(c *Config) { c.Events.Replicas = 3; c.Events.SubjectPrefix = "acme.events" },
		},
		{
			name: "header with inner spaces",
			src:  "[ events ]\nreplicas: 2\n",
			want: func(c *Config) { c.Events.Replicas = 2 },
		},
		{
			name: "double-quoted escapes",
			src:  `[nats]` + "\n" + `user: "a\"b\\c\n\t\u00e9\U0001F600\/"` + "\n",
			want: func(c *Config) { c.NATS.User = "a\"b\\c\n\té😀/" },
		},
		{
			name: "single quotes take no escapes",
			src:  `[server]` + "\n" + `store_dir: 'C:\data\n "x"'` + "\n",
			want: func(c *Config) { c.Server.StoreDir = `C:\data\n "x"` },
		},
		{
			name: "unicode and hash inside strings",
			src:  "[nats]\npassword: \"pä#ss # not a comment\" # a comment\n",
			want: func(c *Config) { c.NATS.Password = "pä#ss # not a comment" },
		},
		{
			name: "booleans, durations, integers with underscores",
			src:  "[server]\nembedded: false\n[commands]\ntimeout: \"1m30s\"\ncache_size: 10_000\n[dlq]\nenabled: false\n",
			want: func(c *Config) {
				c.Server.Embedded = false
				c.Commands.Timeout = 90 * time.Second
				c.Commands.CacheSize = 10000
				c.DLQ.Enabled = false
			},
		},
		{
			name: "arrays spanning lines with comments and a trailing comma",
			src:  "[topics.orders]\nbackoff: [\n  \"1s\", # first\n  \"2s\",\n\n  \"1m\",\n]",
			want: func(c *Config) {
				topic := DefaultTopic()
				topic.Backoff = []time.Duration{time.Second, 2 * time.Second, time.Minute}
				c.Topics = map[string]TopicConfig{"orders": topic}
			},
		},
		{
			name: "empty array is nil",
			src:  "[projections.users]\nsubjects: []\nbackoff: [ ]\n",
			want: func(c *Config) {
				p := DefaultProjection("users")
				p.Backoff = nil
				c.Projections = map[string]ProjectionConfig{"users": p}
			},
		},
		{
			name: "a header alone declares its entry",
			src:  "[projections.users]\n[topics.orders]\n",
			want: func(c *Config) {
				c.Projections = map[string]ProjectionConfig{"users": DefaultProjection("users")}
				c.Topics = map[string]TopicConfig{"orders": DefaultTopic()}
			},
		},
		{
			name: "subscription with filter values of each type",
			src: `[subscriptions.a]
topic: "orders"
filter_field: "total"
filter_op: "greater_than"
filter_value: 100
[subscriptions.b]
subjects: ["events.user.>"]
mode: "pubsub"
filter_field: "ratio"
filter_op: "less_than"
filter_value: -0.5
[subscriptions.c-d]
topic: "orders"
filter_field: "vip"
filter_op: "equals"
filter_value: true
webhook_url: "https://example.com/h"
webhook_timeout: "3s"
[subscriptions.e_f]
topic: "orders"
filter_field: "customer.country"
filter_op: "not_equals"
filter_value: "FR"
max_retries: 7
backoff: ["2s"]
concurrency: 64
`,
			want: func(c *Config) {
				a, b, cd, ef := DefaultSubscription(), DefaultSubscription(), DefaultSubscription(), DefaultSubscription()
				a.Topic, a.Filter = "orders", FilterConfig{"total", OpGreaterThan, int64(100)}
				b.Subjects, b.Mode, b.Filter = []string{"events.user.>"}, ModePubSub, FilterConfig{"ratio", OpLessThan, -0.5}
				cd.Topic, cd.Filter = "orders", FilterConfig{"vip", OpEquals, true}
				cd.Webhook = WebhookConfig{URL: "https://example.com/h", Timeout: 3 * time.Second, Redirects: RedirectsNone}
				ef.Topic, ef.Filter = "orders", FilterConfig{"customer.country", OpNotEquals, "FR"}
				ef.MaxRetries, ef.Backoff, ef.Concurrency = 7, []time.Duration{2 * time.Second}, 64
				c.Subscriptions = map[string]SubscriptionConfig{"a": a, "b": b, "c-d": cd, "e_f": ef}
			},
		},
		{
			name: "variables in values and arrays",
			src:  "$r: 3\n$short = \"1s\"\n[events]\nreplicas: $r\n[dlq]\nreplicas: $r\n[topics.t]\nbackoff: [$short, \"5s\"]\n",
			want: func(c *Config) {
				c.Events.Replicas, c.DLQ.Replicas = 3, 3
				topic := DefaultTopic()
				topic.Backoff = []time.Duration{time.Second, 5 * time.Second}
				c.Topics = map[string]TopicConfig{"t": topic}
			},
		},
		{
			name: "variable defined by another variable and by @env",
			src:  "$a: @env(\"R\", 1)\n$b: $a\n[events]\nreplicas: $b\n",
			env:  []string{"R=4"},
			want: func(c *Config) { c.Events.Replicas = 4 },
		},
		{
			name: "@env set converts text to the key's type",
			src:  "[events]\nreplicas: @env(\"REPL\", 1)\nduplicate_window: @env(\"DW\")\n[server]\nembedded: @env(\"EMB\", true)\n[topics.t]\nbackoff: @env(\"BO\")\n",
			env:  []string{"REPL=5", "DW=30s", "EMB=false", "BO=1s, 2s"},
			want: func(c *Config) {
				c.Events.Replicas, c.Events.DuplicateWindow, c.Server.Embedded = 5, 30*time.Second, false
				topic := DefaultTopic()
				topic.Backoff = []time.Duration{time.Second, 2 * time.Second}
				c.Topics = map[string]TopicConfig{"t": topic}
			},
		},
		{
			name: "@env unset takes the default, or null without one",
			src:  "[events]\nreplicas: @env(\"NOPE\", 2)\nstream: @env(\"NOPE\")\n[nats]\npassword: @env(\n  \"NOPE\",\n  \"dflt\"\n)\n",
			want: func(c *Config) { c.Events.Replicas = 2; c.NATS.Password = "dflt" },
		},
		{
			name: "last definition of an environment variable wins",
			src:  "[nats]\nuser: @env(\"U\")\n",
			env:  []string{"U=first", "U=second"},
			want: func(c *Config) { c.NATS.User = "second" },
		},
		{
			name: "null restores the default",
			src:  "[events]\nreplicas: null\n[projections.p]\nbucket: null\n",
			want: func(c *Config) {
				c.Projections = map[string]ProjectionConfig{"p": DefaultProjection("p")}
			},
		},
		{
			name: "a section may be reopened",
			src:  "[events]\nreplicas: 3\n[log]\nlevel: \"debug\"\n[events]\nstream: \"E\"\n",
			want: func(c *Config) { c.Events.Replicas = 3; c.Log.Level = "debug"; c.Events.Stream = "E" },
		},
		{
			name: "BOM and CRLF",
			src:  "\uFEFF[events]\r\nreplicas: 2\r\n",
			want: func(c *Config) { c.Events.Replicas = 2 },
		},
		{
			name: "float exponent and signs",
			src:  "[subscriptions.s]\nsubjects: [\"events.>\"]\nfilter_field: \"x\"\nfilter_op: \"equals\"\nfilter_value: +1.5e3\n",
			want: func(c *Config) {
				s := DefaultSubscription()
				s.Subjects, s.Filter = []string{"events.>"}, FilterConfig{"x", OpEquals, 1500.0}
				c.Subscriptions = map[string]SubscriptionConfig{"s": s}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode("t.tsk", []byte(tt.src), tt.env)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src      string
		want     string // the whole message: file:line:col: what
		sentinel error
	}{
		{"unknown section", "[event]\n", `t.tsk:1:2: unknown section [event]; did you mean [events]?`, ErrUnknownSection},
		{"unknown named section", "[topic.orders]\n", `t.tsk:1:2: unknown section [topic.orders]; did you mean [topics.orders]?`, ErrUnknownSection},
		{"unknown section far from any", "[zzzzzz]\n", `t.tsk:1:2: unknown section [zzzzzz]`, ErrUnknownSection},
		{"named section without name", "[topics]\n", `t.tsk:1:2: section [topics] needs a name: [topics.<name>]`, ErrUnknownSection},
		{"plain section with name", "\n[events.main]\n", `t.tsk:2:2: section [events] takes no name: write [events]`, ErrUnknownSection},
		{"too many parts", "[topics.a.b]\n", `t.tsk:1:2: section [topics.a.b] has too many parts: write [topics.<name>]`, ErrUnknownSection},
		{"invalid section name", "[topics..a]\n", `t.tsk:1:2: invalid section name "topics..a": use names of letters, digits, '_' and '-' joined by '.'`, ErrSyntax},
		{"unclosed header", "[events\n", `t.tsk:1:8: expected "]" after the section name, found end of line`, ErrSyntax},
		{"unknown key with suggestion", "# c\n[events]\n\n\n\n\n\n\n\n\n\nreplica: 3\n", `t.tsk:12:1: unknown key "replica" in [events]; did you mean "replicas"?`, ErrUnknownKey},
		{"unknown key in named section", "[topics.orders]\n  max_retry: 3\n", `t.tsk:2:3: unknown key "max_retry" in [topics.orders]; did you mean "max_retries"?`, ErrUnknownKey},
		{"key of another section", "[events]\nevery: 5\n", `t.tsk:2:1: unknown key "every" in [events]; it belongs under [snapshots]`, ErrUnknownKey},
		{"unknown key, no suggestion", "[log]\nzzzzzzzz: 1\n", `t.tsk:2:1: unknown key "zzzzzzzz" in [log]`, ErrUnknownKey},
		{"key outside any section", "replicas: 3\n", `t.tsk:1:1: key "replicas" is outside any section; put it under [events]`, ErrUnknownKey},
		{"dotted key", "events.replicas: 3\n", `t.tsk:1:1: dotted key "events.replicas": write the key under its [section] header`, ErrSyntax},
		{"string for integer", "[events]\nreplicas: \"3\"\n", `t.tsk:2:11: replicas in [events]: expected an integer, found string "3"`, ErrType},
		{"float for integer", "[events]\nreplicas = 3.0\n", `t.tsk:2:12: replicas in [events]: expected an integer, found float 3.0`, ErrType},
		{"integer for duration", "[events]\nduplicate_window: 5\n", `t.tsk:2:19: duplicate_window in [events]: expected a duration string such as "5s", found integer 5`, ErrType},
		{"bad duration", "[commands]\ntimeout: \"5 parsecs\"\n", `t.tsk:2:10: timeout in [commands]: expected a duration such as "500ms", "5s" or "1h30m", found string "5 parsecs"`, ErrType},
		{"integer for boolean", "[dlq]\nenabled: 1\n", `t.tsk:2:10: enabled in [dlq]: expected true or false, found integer 1`, ErrType},
		{"string for array", "[topics.t]\nbackoff: \"1s\"\n", `t.tsk:2:10: backoff in [topics.t]: expected an array, found string "1s"`, ErrType},
		{"bad array element points at it", "[projections.p]\nsubjects: [\"events.a\",\n  7]\n", `t.tsk:3:3: subjects in [projections.p]: element 2: expected a string, found integer 7`, ErrType},
		{"bad duration element", "[topics.t]\nbackoff: [\"1s\", \"soon\"]\n", `t.tsk:2:17: backoff in [topics.t]: element 2: expected a duration such as "500ms", "5s" or "1h30m", found string "soon"`, ErrType},
		{"array for scalar", "[subscriptions.s]\nfilter_value: [1]\n", `t.tsk:2:15: filter_value in [subscriptions.s]: expected a string, number or boolean, found array`, ErrType},
		{"type error at a variable's use", "$r: \"x\"\n[events]\nreplicas: $r\n", `t.tsk:3:11: replicas in [events]: expected an integer, found string "x"`, ErrType},
		{"@env text that is no integer", "[events]\nreplicas: @env(\"R\")\n", `t.tsk:2:11: replicas in [events]: expected an integer, found text "three"`, ErrType},
		{"duplicate key", "[events]\nreplicas: 1\nreplicas: 2\n", `t.tsk:3:1: duplicate key "replicas" in [events] (first set on line 2)`, ErrDuplicateKey},
		{"duplicate key across a reopened section", "[events]\nreplicas: 1\n[log]\n[events]\nreplicas = 2\n", `t.tsk:5:1: duplicate key "replicas" in [events] (first set on line 2)`, ErrDuplicateKey},
		{"duplicate variable", "$a: 1\n$a: 2\n", `t.tsk:2:1: variable $a already defined on line 1`, ErrDuplicateKey},
		{"unquoted duration", "[commands]\ntimeout: 5s\n", `t.tsk:2:10: unquoted duration 5s: durations are strings, write "5s"`, ErrSyntax},
		{"unquoted string", "[log]\nlevel: debug\n", `t.tsk:2:8: unquoted string debug: strings are quoted, write "debug"`, ErrSyntax},
		{"unquoted path", "[server]\nstore_dir: ./data\n", `t.tsk:2:12: unquoted string ./data: strings are quoted, write "./data"`, ErrSyntax},
		{"capitalised boolean", "[dlq]\nenabled: True\n", `t.tsk:2:10: True must be written in lower case: true`, ErrSyntax},
		{"integer out of range", "[events]\nreplicas: 99999999999999999999\n", `t.tsk:2:11: number 99999999999999999999 is out of range`, ErrSyntax},
		{"unterminated string", "[log]\nlevel: \"debug\n", `t.tsk:2:8: unterminated string`, ErrSyntax},
		{"unterminated single-quoted string", "[log]\nlevel: 'debug", `t.tsk:2:8: unterminated string`, ErrSyntax},
		{"invalid escape", "[nats]\nuser: \"a\\qb\"\n", `t.tsk:2:9: invalid escape \q`, ErrSyntax},
		{"short unicode escape", "[nats]\nuser: \"\\u12\"\n", `t.tsk:2:8: \u needs 4 hex digits, got "12\"\n"`, ErrSyntax},
		{"surrogate escape", "[nats]\nuser: \"\\uD800\"\n", `t.tsk:2:8: \uD800 is not a valid character`, ErrSyntax},
		{"control character in string", "[nats]\nuser: \"a\x01b\"\n", `t.tsk:2:9: control character U+0001 in string; write it as an escape`, ErrSyntax},
		{"invalid UTF-8", "[nats]\nuser: \"a\xffb\"\n", `t.tsk:2:9: invalid UTF-8 in string`, ErrSyntax},
		{"invalid UTF-8 in a comment", "# \xff\n", `t.tsk:1:3: invalid UTF-8`, ErrSyntax},
		{"unexpected character", "[events]\nreplicas: {1}\n", `t.tsk:2:11: unexpected character '{'`, ErrSyntax},
		{"non-ASCII outside strings", "[events]\nrépliques: 1\n", `t.tsk:2:2: unexpected character 'é'`, ErrSyntax},
		{"missing value", "[events]\nreplicas:\n", `t.tsk:2:10: missing value for replicas`, ErrSyntax},
		{"missing value at end of file", "[events]\nreplicas =", `t.tsk:2:11: missing value for replicas`, ErrSyntax},
		{"missing separator", "[events]\nreplicas 3\n", `t.tsk:2:10: expected ":" or "=" after replicas, found "3"`, ErrSyntax},
		{"two statements on a line", "[events]\nreplicas: 3 stream: \"E\"\n", `t.tsk:2:13: unexpected "stream"; one statement per line`, ErrSyntax},
		{"text after a header", "[events] replicas: 3\n", `t.tsk:1:10: unexpected "replicas"; one statement per line`, ErrSyntax},
		{"unterminated array", "[topics.t]\nbackoff: [\"1s\",\n\"2s\"\n", `t.tsk:2:10: unterminated array`, ErrSyntax},
		{"array without comma", "[topics.t]\nbackoff: [\"1s\" \"2s\"]\n", `t.tsk:2:16: expected "," or "]" in array, found string "2s"`, ErrSyntax},
		{"array with a hole", "[topics.t]\nbackoff: [\"1s\", , \"2s\"]\n", `t.tsk:2:17: expected a value, found ","`, ErrSyntax},
		{"arrays nested too deep", "[topics.t]\nbackoff: " + strings.Repeat("[", 40) + "\n", `t.tsk:2:42: nested more than 32 levels deep`, ErrSyntax},
		{"undefined variable", "$replicas: 3\n[events]\nreplicas: $replica\n", `t.tsk:3:11: undefined variable $replica; did you mean $replicas?`, ErrUndefinedVariable},
		{"variable used before its definition", "$a: $b\n$b: 1\n", `t.tsk:1:5: undefined variable $b`, ErrUndefinedVariable},
		{"variable inside a section", "[events]\n$r: 3\n", `t.tsk:2:1: variable $r must be defined before the first [section]`, ErrSyntax},
		{"bare dollar", "$: 3\n", `t.tsk:1:1: $ must be followed by a name`, ErrSyntax},
		{"unknown function", "[log]\nlevel: @date(\"x\")\n", `t.tsk:2:8: unknown function @date: only @env("NAME", default) and @file("path") are supported`, ErrSyntax},
		{"@env without parentheses", "[log]\nlevel: @env \"X\"\n", `t.tsk:2:13: expected "(" after @env, found string "X"`, ErrSyntax},
		{"@env without a name", "[log]\nlevel: @env()\n", `t.tsk:2:13: @env needs the name of an environment variable`, ErrSyntax},
		{"@env with a number as name", "[log]\nlevel: @env(1)\n", `t.tsk:2:13: @env needs the variable name as a non-empty string, found integer 1`, ErrSyntax},
		{"@env with three arguments", "[log]\nlevel: @env(\"A\", \"b\", \"c\")\n", `t.tsk:2:21: expected ")" to close @env, found ","`, ErrSyntax},
		{"statement starting with a string", "\"key\": 1\n", `t.tsk:1:1: expected a key, a [section] or a $variable, found string "key"`, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode("t.tsk", []byte(tt.src), []string{"R=three"})
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.sentinel)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.File != "t.tsk" || se.Line < 1 || se.Col < 1 {
				t.Errorf("errors.As *SyntaxError: %#v", se)
			}
		})
	}
}

// TestDecodeReportsEveryProblem: a user fixing a file sees all its unknown
// keys and type errors at once, each with its own position.
func TestDecodeReportsEveryProblem(t *testing.T) {
	t.Parallel()
	src := "[events]\nreplica: 3\nstream: 1\n[evnts]\nreplicas: 2\n[log]\nlevel: \"debug\"\nformt: \"json\"\n"
	_, err := Decode("jetflow.tsk", []byte(src), nil)
	want := strings.Join([]string{
		`jetflow.tsk:2:1: unknown key "replica" in [events]; did you mean "replicas"?`,
		`jetflow.tsk:3:9: stream in [events]: expected a string, found integer 1`,
		`jetflow.tsk:4:2: unknown section [evnts]; did you mean [events]?`,
		`jetflow.tsk:8:1: unknown key "formt" in [log]; did you mean "format"?`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrType) || !errors.Is(err, ErrUnknownSection) {
		t.Errorf("joined error does not match every sentinel: %v", err)
	}
}

func TestSyntaxErrorWithoutFile(t *testing.T) {
	t.Parallel()
	_, err := Decode("", []byte("[x]"), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "1:2: unknown section [x]") {
		t.Fatalf("error = %v, want it to start with 1:2:", err)
	}
}
