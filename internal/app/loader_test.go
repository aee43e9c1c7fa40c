package app

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natstest"
)

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jetflow.tsk")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// --config is one flag of the root, read by every command that reads a
// configuration, before or after the command's name; the commands that
// read none refuse it.
func TestConfigFlagIsEveryCommands(t *testing.T) {
	t.Parallel()
	bad := writeConfig(t, "[evnts]\n")
	const want = `jetflow.tsk:1:2: unknown section [evnts]; did you mean [events]?`
	for _, args := range [][]string{
		{"serve", "--config", bad},
		{"--config", bad, "serve"},
		{"send", "user.create", `{}`, "--config", bad},
		{"query", "users.list", "--config", bad},
		{"events", "user", "u1", "--config", bad},
		{"publish", "orders", `{}`, "--config", bad},
		{"dlq", "list", "--config", bad},
		{"--config", bad, "dlq", "show", "1"},
		{"projections", "status", "--config", bad},
		{"worker", "--config", bad},
		{"config", "check", "--config", bad},
	} {
		if _, _, err := runRoot(t, args...); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want the file's error", args, err)
		}
	}
	for _, args := range [][]string{{"version", "--config", bad}, {"bench", "--config", bad}} {
		if _, _, err := runRoot(t, args...); err == nil || !strings.Contains(err.Error(), "reads no configuration") {
			t.Errorf("%q: %v, want a refusal", args, err)
		}
	}
	if _, _, err := runRoot(t, "config", "check", bad, "--config", writeConfig(t, "")); err == nil || !strings.Contains(err.Error(), "give one") {
		t.Errorf("config check with two files: %v", err)
	}
}

// Every flag that sets a configuration key is a string flag that shows
// the key's default (but serve's --nats-url) and names the key; the flags
// listed here keep doing so.
func TestKeyFlags(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"serve": {"cache-size", "command-timeout", "conflict-retries", "console", "creds", "insecure-allow-anonymous", "listen", "log-format", "log-level", "metrics-listen",
			"nats-config", "nats-password", "nats-url", "nats-user", "replicas", "snapshot-every", "store-dir", "sync-interval"},
		"chaos":               {"sync-interval"},
		"send":                {"creds", "nats-url", "prefix"},
		"query":               {"creds", "nats-url", "prefix"},
		"events":              {"creds", "nats-url", "stream", "subject-prefix"},
		"publish":             {"creds", "nats-url"},
		"dlq list":            {"creds", "dlq-stream", "nats-url"},
		"dlq replay":          {"creds", "dlq-stream", "nats-url"},
		"projections status":  {"creds", "nats-url"},
		"projections rebuild": {"creds", "nats-url"},
		"worker":              {"creds", "log-format", "log-level", "nats-password", "nats-url", "nats-user"},
		"config check":        nil,
	}
	keys := map[string]string{}
	for _, k := range config.Keys() {
		keys[k.Name] = k.Default
	}
	root := NewRootCmd(nil)
	for path, flags := range want {
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			key, ok := f.Annotations[annotationKey]
			if !ok {
				return
			}
			got = append(got, f.Name)
			if _, known := keys[key[0]]; !known || f.Value.Type() != "string" || !strings.Contains(f.Usage, key[0]) {
				t.Errorf("%s --%s: key %s, type %s, usage %q", path, f.Name, key[0], f.Value.Type(), f.Usage)
			}
			def := defaultOf(key[0])
			if path == "serve" && f.Name == "nats-url" {
				def = ""
			}
			if f.DefValue != def {
				t.Errorf("%s --%s shows default %q, want %q", path, f.Name, f.DefValue, def)
			}
		})
		if !slices.Equal(got, flags) {
			t.Errorf("%s: key flags %q, want %q", path, got, flags)
		}
	}
}

// Flags win over JETFLOW_* variables, which win over the file.
func TestKeyFlagsWinOverTheEnvironmentAndTheFile(t *testing.T) {
	srv := natstest.RunServer(t)
	file := writeConfig(t, "[events]\nstream: \"FROM_FILE\"\n")
	missing := func(args ...string) string {
		t.Helper()
		_, _, err := runRoot(t, append([]string{"events", "user", "u1", "--nats-url", srv.URL, "--config", file}, args...)...)
		if _, ok := errors.AsType[*missingStreamError](err); !ok {
			t.Fatalf("%q: %v, want a missing stream", args, err)
		}
		return err.(*missingStreamError).Stream
	}
	if got := missing(); got != "FROM_FILE" {
		t.Errorf("the file's stream: %s", got)
	}
	t.Setenv("JETFLOW_EVENTS_STREAM", "FROM_ENV")
	if got := missing(); got != "FROM_ENV" {
		t.Errorf("the environment's stream: %s", got)
	}
	if got := missing("--stream", "FROM_FLAG"); got != "FROM_FLAG" {
		t.Errorf("the flag's stream: %s", got)
	}
	// A flag's value is checked like the file's, naming the flag.
	_, _, err := runRoot(t, "events", "user", "u1", "--nats-url", srv.URL, "--config", file, "--stream", "A.B")
	if err == nil || !strings.Contains(err.Error(), "events.stream") {
		t.Errorf("--stream A.B: %v", err)
	}
}

// The configuration a command reads carries the domain's own sections,
// also for the commands that do not use them: a [shop] in the file is
// no unknown section.
func TestDomainSectionsReachEveryCommand(t *testing.T) {
	t.Parallel()
	type shop struct {
		MaxLines int `tsk:"max_lines"`
	}
	var loaded []shop
	d := &Domain{Sections: []Section{{
		Section: config.Section{Name: "shop", Defaults: shop{MaxLines: 100}},
		Loaded:  func(v any) { loaded = append(loaded, v.(shop)) },
	}}}
	file := writeConfig(t, "[shop]\nmax_lines: 3\n")
	root := NewRootCmd(d)
	root.SetArgs([]string{"config", "check", file})
	root.SetOut(new(strings.Builder))
	root.SetErr(new(strings.Builder))
	if err := root.Execute(); err != nil {
		t.Fatalf("config check: %v", err)
	}
	if len(loaded) != 1 || loaded[0].MaxLines != 3 {
		t.Errorf("loaded %+v", loaded)
	}
	// Without the domain the section is unknown.
	if _, _, err := runRoot(t, "config", "check", file); !errors.Is(err, config.ErrUnknownSection) {
		t.Errorf("config check without the domain: %v", err)
	}
	// A section the schema refuses is a registration error.
	bad := &Domain{Sections: []Section{{Section: config.Section{Name: "events", Defaults: shop{}}}}}
	if _, err := bad.LoadConfig("", nil); !errors.Is(err, ErrInvalidDomain) || !errors.Is(err, config.ErrSection) {
		t.Errorf("a section named events: %v", err)
	}
}

// `config check --set nats.url=…` prints what the file says of
// server.embedded; serve's --nats-url and a program's nats.url setting
// turn it off.
func TestOnlyServersNATSURLTurnsEmbeddedOff(t *testing.T) {
	t.Parallel()
	file := writeConfig(t, "")
	out, _, err := runRoot(t, "config", "check", file, "--set", "nats.url=nats://10.0.0.1:4222")
	if err != nil || !regexp.MustCompile(`(?m)^embedded: +true$`).MatchString(out) {
		t.Errorf("config check --set nats.url: %v\n%s", err, out)
	}
	cfg, err := (*Domain)(nil).LoadConfig(file, []Setting{{Key: "nats.url", Value: "nats://10.0.0.1:4222"}})
	if err != nil || cfg.Server.Embedded {
		t.Errorf("LoadConfig with nats.url: embedded %v, %v", cfg.Server.Embedded, err)
	}
	var cmd cobra.Command
	keyFlags(cmd.Flags(), configFlag{"nats-url", "nats.url", "connect"})
	if err := cmd.ParseFlags([]string{"--nats-url", "10.0.0.1:4222"}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := (&loader{file: file}).load(&cmd); err != nil || cfg.Server.Embedded || cfg.NATS.URL != "10.0.0.1:4222" {
		t.Errorf("--nats-url host:port: embedded %v, url %q, %v", cfg.Server.Embedded, cfg.NATS.URL, err)
	}
}
