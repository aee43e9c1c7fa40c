package jetflow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// A shop with a configuration section of its own, [shop], that limits
// the lines of an order.

type shopSettings struct {
	WarehouseURL string        `tsk:"warehouse_url" doc:"Where orders are sent."`
	MaxLines     int           `tsk:"max_lines" doc:"Most lines an order may have."`
	Timeout      time.Duration `tsk:"timeout"`
	Regions      []string      `tsk:"regions"`
	Express      bool          `tsk:"express"`
	APIKey       string        `tsk:"api_key,secret" doc:"Key of the warehouse API."`
}

var errNoLines = errors.New("an order needs a line")

func (s shopSettings) Validate() error {
	var errs []error
	if s.MaxLines < 1 {
		errs = append(errs, &jetflow.FieldError{Key: "max_lines", Err: fmt.Errorf("%d: %w", s.MaxLines, errNoLines)})
	}
	if s.Express && s.WarehouseURL == "" {
		errs = append(errs, errors.New("express needs a warehouse_url"))
	}
	return errors.Join(errs...)
}

type order struct{ placed bool }

func (o *order) Apply(ev streams.Event) error {
	if ev.Type != "order.placed" {
		return fmt.Errorf("unknown event %s", ev.Type)
	}
	o.placed = true
	return nil
}

type placeOrder struct {
	ID    string `json:"id,omitempty"`
	Lines int    `json:"lines"`
}

// shopApp registers the shop; started receives the settings its commands
// were registered with, when the platform starts.
func shopApp(started chan<- shopSettings) (*jetflow.App, *jetflow.Section[shopSettings]) {
	app := jetflow.New()
	shop := jetflow.Settings(app, "shop", shopSettings{MaxLines: 100, Timeout: 5 * time.Second})
	jetflow.Aggregate(app, "order", func() *order { return &order{} }, func(svc *aggregates.Service, repo *aggregates.Repository[*order]) error {
		started <- shop.Get()
		return aggregates.Register(svc, repo, aggregates.CommandSpec[*order, placeOrder]{
			Name:        "place",
			AggregateID: func(c *placeOrder) string { return c.ID },
			AssignID:    func(c *placeOrder, id string) { c.ID = id },
			Decide: func(c placeOrder, o *aggregates.Instance[*order]) ([]aggregates.Change, error) {
				if most := shop.Get().MaxLines; c.Lines > most {
					return nil, aggregates.Invalid("%d lines: an order has at most %d", c.Lines, most)
				}
				return []aggregates.Change{{Type: "order.placed", Data: c}}, nil
			},
		})
	})
	return app, shop
}

func writeTsk(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shop.tsk")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The section's values reach the domain's code: the file, with
// WithSetting over it, and the defaults of the keys neither sets.
func TestSettingsReachTheDomain(t *testing.T) {
	t.Parallel()
	started := make(chan shopSettings, 1)
	app, shop := shopApp(started)
	file := writeTsk(t, "[shop]\nwarehouse_url: \"http://wh.test\"\nmax_lines: 3\nregions: [\"eu\", \"us\"]\n")
	running := jetflowtest.RunApp(t, app, jetflow.WithConfigFile(file), jetflow.WithSetting("shop.max_lines", "2"))

	want := shopSettings{WarehouseURL: "http://wh.test", MaxLines: 2, Timeout: 5 * time.Second, Regions: []string{"eu", "us"}}
	if got := <-started; !reflect.DeepEqual(got, want) {
		t.Errorf("settings at start:\n got %+v\nwant %+v", got, want)
	}
	if got := shop.Get(); !reflect.DeepEqual(got, want) {
		t.Errorf("Get:\n got %+v\nwant %+v", got, want)
	}
	running.MustSend("order.place", placeOrder{Lines: 2})
	_, err := running.Send("order.place", placeOrder{Lines: 3})
	if !errors.Is(err, wire.ErrInvalid) || !strings.Contains(err.Error(), "3 lines: an order has at most 2") {
		t.Fatalf("an order over max_lines: %v, want 400 naming the limit", err)
	}
}

// `serve` of the command line loads the section as Run does.
func TestSettingsReachServe(t *testing.T) {
	t.Parallel()
	started := make(chan shopSettings, 1)
	app, _ := shopApp(started)
	file := writeTsk(t, "[shop]\nmax_lines: 7\n")
	root := app.Command()
	root.SetOut(new(bytes.Buffer))
	root.SetErr(new(bytes.Buffer))
	root.SetArgs([]string{"serve", "--config", file, "--listen", "127.0.0.1:-1", "--store-dir", t.TempDir(),
		"--metrics-listen", "", "--log-level", "error"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	select {
	case got := <-started:
		if got.MaxLines != 7 {
			t.Errorf("serve started with max_lines %d, want 7", got.MaxLines)
		}
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	case <-time.After(jetflowtest.DefaultWait):
		t.Fatal("serve did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// A JETFLOW_SHOP_* variable sets its key over the file.
func TestSettingsFromTheEnvironment(t *testing.T) {
	t.Setenv("JETFLOW_SHOP_MAX_LINES", "9")
	t.Setenv("JETFLOW_SHOP_REGIONS", "eu, us")
	app, _ := shopApp(make(chan shopSettings, 1))
	out, _, err := runCommand(app, "config", "check", writeTsk(t, "[shop]\nmax_lines: 3\n"))
	if err != nil {
		t.Fatalf("config check: %v", err)
	}
	for _, want := range []string{"\nmax_lines:     9\n", "\nregions:       [\"eu\", \"us\"]\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check does not print %q:\n%s", want, out)
		}
	}
}

func runCommand(app *jetflow.App, args ...string) (stdout, stderr string, err error) {
	root := app.Command()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// A wrong section is refused before anything starts, by Run and by
// `config check`, each problem at its place in the file or on its key.
func TestSettingsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		set  [2]string
		want []string
		is   error
	}{
		{name: "wrong type", src: "[shop]\nmax_lines: \"3\"\n",
			want: []string{`shop.tsk:2:12: max_lines in [shop]: expected an integer, found string "3"`}},
		{name: "unknown key", src: "[shop]\n\nmax_line: 3\n",
			want: []string{`shop.tsk:3:1: unknown key "max_line" in [shop]; did you mean "max_lines"?`}},
		{name: "misspelt section", src: "[shopp]\nmax_lines: 3\n",
			want: []string{`shop.tsk:1:2: unknown section [shopp]; did you mean [shop]?`}},
		{name: "Validate, on a key and on the section", src: "[shop]\nmax_lines: 0\nexpress: true\n",
			want: []string{"shop.max_lines: 0: an order needs a line", "shop: express needs a warehouse_url"}, is: errNoLines},
		{name: "WithSetting of the wrong type", set: [2]string{"shop.timeout", "5"},
			want: []string{`shop.timeout: expected a duration such as "500ms", "5s" or "1h30m", found text "5"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app, _ := shopApp(make(chan shopSettings, 1))
			file := writeTsk(t, tt.src)
			opts := []jetflow.RunOption{jetflow.WithConfigFile(file), jetflow.WithSetting("server.listen", "127.0.0.1:-1"),
				jetflow.WithSetting("server.store_dir", t.TempDir()), jetflow.WithSetting("metrics.listen", "")}
			args := []string{"config", "check", file}
			if tt.set[0] != "" {
				opts = append(opts, jetflow.WithSetting(tt.set[0], tt.set[1]))
				args = append(args, "--set", tt.set[0]+"="+tt.set[1])
			}
			ctx, cancel := context.WithTimeout(context.Background(), jetflowtest.DefaultWait)
			defer cancel()
			runErr := app.Run(ctx, opts...)
			_, _, checkErr := runCommand(app, args...)
			for what, err := range map[string]error{"Run": runErr, "config check": checkErr} {
				if err == nil {
					t.Fatalf("%s: no error", what)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s:\n got %v\nwant %s", what, err, w)
					}
				}
				if tt.is == nil {
					continue
				}
				var fe *jetflow.FieldError
				if !errors.Is(err, tt.is) || !errors.As(err, &fe) || fe.Key != "max_lines" {
					t.Errorf("%s: %v does not hold the section's *FieldError", what, err)
				}
			}
		})
	}
}

// `config check` prints the section with what each key does, its default
// and its variable, and redacts a secret.
func TestSettingsConfigCheck(t *testing.T) {
	t.Parallel()
	app, _ := shopApp(make(chan shopSettings, 1))
	file := writeTsk(t, "[shop]\nmax_lines: 3\napi_key: \"s3cret\"\n")
	out, stderr, err := runCommand(app, "config", "check", file, "--set", "shop.timeout=1m")
	if err != nil {
		t.Fatalf("config check: %v", err)
	}
	if !strings.Contains(stderr, "configuration OK: "+file) {
		t.Errorf("stderr: %q", stderr)
	}
	for _, want := range []string{
		"\n[shop]\n# Where orders are sent. Default \"\"; env JETFLOW_SHOP_WAREHOUSE_URL.\nwarehouse_url: \"\"\n",
		"# Most lines an order may have. Default 100; env JETFLOW_SHOP_MAX_LINES.\nmax_lines:     3\n",
		"# Default \"5s\"; env JETFLOW_SHOP_TIMEOUT.\ntimeout:       \"1m\"\n",
		"# Key of the warehouse API. Default \"\"; env JETFLOW_SHOP_API_KEY.\napi_key:       \"<redacted>\"\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config check does not print %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("config check printed the secret:\n%s", out)
	}
	// The printed document, with its secret shown, is a configuration of
	// the same values.
	shown, _, err := runCommand(app, "config", "check", file, "--set", "shop.timeout=1m", "--show-secrets")
	if err != nil || !strings.Contains(shown, "api_key:       \"s3cret\"\n") {
		t.Fatalf("--show-secrets: %v\n%s", err, shown)
	}
	again, _, err := runCommand(app, "config", "check", writeTsk(t, shown), "--show-secrets")
	if err != nil || again != shown {
		t.Errorf("the printed configuration does not load back the same: %v\n%s", err, again)
	}
}

func TestSettingsRegistrationErrors(t *testing.T) {
	t.Parallel()
	type noKeys struct{ a int }
	type badType struct {
		A uint `tsk:"a"`
	}
	tests := []struct {
		name     string
		register func(*jetflow.App)
		want     string
	}{
		{"jetflow's own section", func(a *jetflow.App) { jetflow.Settings(a, "events", shopSettings{}) }, "[events]: jetflow's own section has that name"},
		{"twice", func(a *jetflow.App) {
			jetflow.Settings(a, "shop", shopSettings{})
			jetflow.Settings(a, "shop", shopSettings{})
		}, "[shop]: registered twice"},
		{"not a struct", func(a *jetflow.App) { jetflow.Settings(a, "shop", 5) }, "not a struct"},
		{"no keys", func(a *jetflow.App) { jetflow.Settings(a, "shop", noKeys{}) }, "has no key"},
		{"a field of no key type", func(a *jetflow.App) { jetflow.Settings(a, "shop", badType{}) }, "field A: type uint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := jetflow.New()
			tt.register(app)
			err := app.Run(context.Background(), jetflow.WithConfigFile(""))
			if !errors.Is(err, jetflow.ErrInvalidRegistration) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, want ErrInvalidRegistration with %q", err, tt.want)
			}
			if _, _, err := runCommand(app, "version"); !errors.Is(err, jetflow.ErrInvalidRegistration) {
				t.Fatalf("version = %v, want ErrInvalidRegistration", err)
			}
		})
	}
}

// Get before the configuration is loaded would see the defaults: it
// panics instead, naming the section.
func TestSettingsGetBeforeLoad(t *testing.T) {
	t.Parallel()
	_, shop := shopApp(make(chan shopSettings, 1))
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "settings [shop] read before the configuration was loaded") {
			t.Fatalf("recovered %v", r)
		}
	}()
	_ = shop.Get()
}
