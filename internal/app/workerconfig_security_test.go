package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/config"
)

// The webhook's secret and headers come from jetflow.tsk (through @env and
// @file, so never on a command line) and reach the handler.
func TestWorkerWebhookSecretsFromTuskLang(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook.secret"), []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `
[subscriptions.billing]
subjects: ["events.>"]
webhook_url: "https://billing.local/hook"
webhook_secret: @file("hook.secret")
webhook_headers: ["X-Team: billing", @env("HOOK_AUTH")]
webhook_redirects: "same_origin"
`
	path := filepath.Join(dir, "jetflow.tsk")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, []string{"HOOK_AUTH=Authorization: Bearer t0k3n"})
	if err != nil {
		t.Fatal(err)
	}
	wc, err := workerConfigFromSettings(cfg, "h")
	if err != nil {
		t.Fatal(err)
	}
	hook := wc.Subscriptions[0].Webhook
	if hook.Secret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" || hook.Redirects != consumers.RedirectSameOrigin ||
		hook.Headers["Authorization"] != "Bearer t0k3n" || hook.Headers["X-Team"] != "billing" {
		t.Fatalf("webhook %+v", hook)
	}
}

func TestWorkerWebhookSecretsFromJSONAndFlags(t *testing.T) {
	t.Parallel()
	cfg, err := loadWorkerConfig(strings.NewReader(`{"subscriptions": [{"name": "b", "topic": "orders",
	  "webhook": {"url": "http://h/x", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "redirects": "same_origin"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if h := cfg.Subscriptions[0].Webhook; h.Secret == "" || h.Redirects != consumers.RedirectSameOrigin {
		t.Fatalf("JSON webhook %+v", h)
	}
	secret := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(secret, []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var f workerFlags
	cmd := &cobra.Command{}
	f.register(cmd)
	if err := cmd.ParseFlags([]string{"--name", "b", "--topic", "orders", "--webhook", "http://h/x",
		"--webhook-secret-file", secret, "--webhook-redirects", "same_origin"}); err != nil {
		t.Fatal(err)
	}
	wc, err := f.workerConfig(cmd, "", config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if h := wc.Subscriptions[0].Webhook; h.Secret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" || h.Redirects != consumers.RedirectSameOrigin {
		t.Fatalf("flags webhook %+v", h)
	}
}
