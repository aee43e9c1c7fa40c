package app

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natstest"
)

// --console alone turns the console on, as a boolean flag; it maps onto
// console.enabled through the one flag-to-key mechanism.
func TestConsoleFlag(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]string{"--console": "true", "--console=false": "false", "--console=true": "true"} {
		cmd, _, err := NewRootCmd(nil).Find([]string{"serve"})
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.ParseFlags(strings.Fields(args)); err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		got := flagSettings(cmd.Flags())
		if !slices.Contains(got, Setting{Key: "console.enabled", Value: want, Source: "--console"}) {
			t.Errorf("%s: settings %+v, want console.enabled=%s", args, got, want)
		}
	}
}

// serveConsole runs serve with an empty domain and cfg's console until the
// test ends, and returns where it answers.
func serveConsole(t *testing.T, edit func(*config.Config)) Started {
	t.Helper()
	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:-1"
	cfg.Server.StoreDir = t.TempDir()
	cfg.Metrics.Listen = natstest.FreeAddr(t)
	cfg.Log.Level = "error"
	cfg.Console.Enabled = true
	edit(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan Started, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, nil, &ServeOptions{OnReady: func(s Started) { ready <- s }}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case s := <-ready:
		return s
	case err := <-done:
		done <- err
		t.Fatalf("serve ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve not ready after 30s")
	}
	return Started{}
}

func noRedirect() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func status(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestConsoleBesideTheMetrics(t *testing.T) {
	t.Parallel()
	s := serveConsole(t, func(*config.Config) {})
	if s.ConsoleURL != "http://"+s.MetricsAddr+"/ui/" {
		t.Fatalf("console at %q, metrics at %s", s.ConsoleURL, s.MetricsAddr)
	}
	c := noRedirect()
	for path, want := range map[string]int{"/ui/": 200, "/ui/commands": 200, "/metrics": 200, "/readyz": 200} {
		if got := status(t, c, "http://"+s.MetricsAddr+path); got != want {
			t.Errorf("GET %s = %d, want %d", path, got, want)
		}
	}
}

func TestConsoleOnItsOwnAddressWithAToken(t *testing.T) {
	t.Parallel()
	own := natstest.FreeAddr(t)
	s := serveConsole(t, func(c *config.Config) {
		c.Console.Listen, c.Console.Token = own, "0123456789abcdef-token"
	})
	if s.ConsoleURL != "http://"+own+"/ui/" {
		t.Fatalf("console at %q, want on %s", s.ConsoleURL, own)
	}
	c := noRedirect()
	if got := status(t, c, "http://"+s.MetricsAddr+"/ui/"); got != http.StatusNotFound {
		t.Errorf("the metrics address serves the console (%d) though it has its own", got)
	}
	if got := status(t, c, "http://"+own+"/"); got != http.StatusSeeOther {
		t.Errorf("GET / on the console's address = %d, want a redirect to /ui/", got)
	}
	if got := status(t, c, s.ConsoleURL); got != http.StatusSeeOther {
		t.Errorf("GET /ui/ without the token = %d, want the login form", got)
	}
	req, _ := http.NewRequest(http.MethodGet, s.ConsoleURL+"projections", nil)
	req.Header.Set("Authorization", "Bearer 0123456789abcdef-token")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET with the token = %d", resp.StatusCode)
	}
}

// A console reachable from beyond loopback without a token never starts.
func TestConsoleBeyondLoopbackNeedsAToken(t *testing.T) {
	t.Parallel()
	var d Domain
	_, err := d.LoadConfig("", []Setting{{Key: "console.enabled", Value: "true"}, {Key: "console.listen", Value: "0.0.0.0:9470"}})
	if err == nil || !strings.Contains(err.Error(), "console.token") {
		t.Fatalf("LoadConfig: %v, want an error naming console.token", err)
	}
}
