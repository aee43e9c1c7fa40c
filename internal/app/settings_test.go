package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestServeHelpNATSURL: serve's --nats-url showed the client default
// (nats://127.0.0.1:4222) although giving it at all turns the embedded
// server off. Its help now says so, and shows no default; the other flags
// keep theirs.
func TestServeHelpNATSURL(t *testing.T) {
	t.Parallel()
	out, stderr, err := runRoot(t, "serve", "--help")
	if err != nil {
		t.Fatalf("serve --help: %v (stderr %q)", err, stderr)
	}
	var natsURL string
	for line := range strings.Lines(out) {
		if strings.Contains(line, "--nats-url") {
			natsURL = line
		}
	}
	if !strings.Contains(natsURL, "instead of starting the embedded one (default: embedded)") || strings.Contains(natsURL, `(default "`) {
		t.Errorf("--nats-url help = %q, want it to say it replaces the embedded server, with no default URL", natsURL)
	}
	if !strings.Contains(out, `embedded NATS server (server.listen) (default "127.0.0.1:4222")`) {
		t.Errorf("--listen lost its default:\n%s", out)
	}
}

// TestSettingsNATSURLTurnsEmbeddedOff: without --nats-url serve embeds a
// server; with it, it connects there and embeds none.
func TestSettingsNATSURLTurnsEmbeddedOff(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "jetflow.tsk")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args     []string
		embedded bool
		url      string
	}{
		{nil, true, ""},
		{[]string{"--nats-url", "nats://10.0.0.1:4222"}, false, "nats://10.0.0.1:4222"},
	} {
		cmd := &cobra.Command{Use: "serve"}
		keyFlags(cmd.Flags(), configFlag{"nats-url", "nats.url", "connect"}, configFlag{"listen", "server.listen", "listen"})
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		cfg, err := (&loader{file: file}).load(cmd)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if cfg.Server.Embedded != tc.embedded || (tc.url != "" && cfg.NATS.URL != tc.url) {
			t.Errorf("%q: embedded %v, nats.url %q; want %v, %q", tc.args, cfg.Server.Embedded, cfg.NATS.URL, tc.embedded, tc.url)
		}
	}
}
