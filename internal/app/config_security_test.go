package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `jetflow config check` prints no secret: not the password in nats.url,
// not a webhook URL's token, not a webhook secret or header value.
func TestConfigCheckRedactsURLsAndWebhookSecrets(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "prod.tsk")
	src := "[nats]\nurl: \"nats://jetflow:nats-s3cret@n1:4222\"\n" +
		"[subscriptions.hook]\nsubjects: [\"events.>\"]\nwebhook_url: \"https://h/hook?token=url-s3cret\"\n" +
		"webhook_secret: \"whsec_c2VjcmV0LW9mLXNpeHRlZW4tYnl0ZXM=\"\nwebhook_headers: [\"Authorization: Bearer hdr-s3cret\"]\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := NewRootCmd(nil)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"config", "check", file})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, secret := range []string{"nats-s3cret", "url-s3cret", "c2VjcmV0LW9mLXNpeHRlZW4tYnl0ZXM", "hdr-s3cret"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("config check prints %s:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "nats://jetflow:xxxxx@n1:4222") || !strings.Contains(out.String(), "token=xxxxx") {
		t.Errorf("config check hides where things are:\n%s", out.String())
	}
}
