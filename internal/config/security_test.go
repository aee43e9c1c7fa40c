package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `config check` prints Redacted: no password of a URL, no query value of a
// webhook URL (tokens travel there), no webhook secret or header value.
func TestRedactedHidesSecretsInURLsAndWebhooks(t *testing.T) {
	t.Parallel()
	c := Default()
	for key, val := range map[string]string{
		"nats.url":                           "nats://jetflow:nats-s3cret@n1:4222, tls://u:tls-s3cret@n2:4222",
		"subscriptions.hook.subjects":        "events.>",
		"subscriptions.hook.webhook_url":     "https://bob:url-s3cret@hooks.example/in?token=query-s3cret&x=1",
		"subscriptions.hook.webhook_secret":  "whsec_c2lnbmluZy1zM2NyZXQ=",
		"subscriptions.hook.webhook_headers": `["Authorization: Bearer header-s3cret"]`,
	} {
		if err := c.Set(key, val); err != nil {
			t.Fatal(key, err)
		}
	}
	out, err := Format(c.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"nats-s3cret", "tls-s3cret", "url-s3cret", "query-s3cret", "c2lnbmluZy1zM2NyZXQ", "header-s3cret"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("config check prints %s:\n%s", secret, out)
		}
	}
	printed := strings.Join(strings.Fields(string(out)), " ") // alignment aside
	for _, want := range []string{
		`url: "nats://jetflow:xxxxx@n1:4222, tls://u:xxxxx@n2:4222"`,
		`webhook_url: "https://bob:xxxxx@hooks.example/in?token=xxxxx&x=xxxxx"`,
		`webhook_secret: "<redacted>"`,
		`webhook_headers: ["Authorization: <redacted>"]`,
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("config check does not print %s:\n%s", want, out)
		}
	}
	if c.Subscriptions["hook"].Webhook.Secret != "whsec_c2lnbmluZy1zM2NyZXQ=" || !strings.Contains(c.NATS.URL, "nats-s3cret") {
		t.Error("Redacted changed the Config it was called on")
	}
}

// A type error on a secret key says what is wrong without printing it.
func TestTypeErrorsHideSecretValues(t *testing.T) {
	t.Parallel()
	_, err := Decode("t.tsk", []byte("[nats]\npassword: 31415926535\n[subscriptions.s]\nwebhook_secret: 27182818284\n"), nil)
	if !errors.Is(err, ErrType) {
		t.Fatalf("want a type error: %v", err)
	}
	for _, secret := range []string{"31415926535", "27182818284"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error prints the secret: %v", err)
		}
	}
	if !strings.Contains(err.Error(), "t.tsk:2:11: password in [nats]: expected a string, found an integer (not shown: secret)") {
		t.Errorf("error: %v", err)
	}
	c := Default()
	if err := c.Set("nats.password", "x"); err != nil {
		t.Fatal(err)
	}
	err = c.Set("subscriptions.s.webhook_headers", `["a", 123456789]`)
	if err == nil || strings.Contains(err.Error(), "123456789") {
		t.Errorf("Set of a secret array: %v", err)
	}
}

// A validation error about a webhook URL does not print its secrets.
func TestValidationErrorsHideURLSecrets(t *testing.T) {
	t.Parallel()
	c := Default()
	_ = c.Set("subscriptions.s.subjects", "events.>")
	_ = c.Set("subscriptions.s.webhook_url", "ftp://u:pw-s3cret@h/x?token=tok-s3cret")
	_ = c.Set("nats.url", "mqtt://u:nats-s3cret@h:1883")
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid URLs passed")
	}
	for _, secret := range []string{"pw-s3cret", "tok-s3cret", "nats-s3cret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("validation prints %s: %v", secret, err)
		}
	}
}

// @file("path") reads a secret from a file (Docker and Kubernetes mount
// them), relative to the configuration file, without the final newline.
func TestFileReference(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook.secret"), []byte("whsec_c2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth"), []byte("Authorization: Bearer t0k3n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "[subscriptions.s]\nsubjects: [\"events.>\"]\nwebhook_url: \"https://h/x\"\n" +
		"webhook_secret: @file(\"hook.secret\")\nwebhook_headers: [\"X-Static: 1\", @file(\"" + filepath.Join(dir, "auth") + "\"), @env(\"HOOK_H\")]\n"
	path := filepath.Join(dir, "jetflow.tsk")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, []string{"HOOK_H=X-Env: e"})
	if err != nil {
		t.Fatal(err)
	}
	s := c.Subscriptions["s"]
	if s.Webhook.Secret != "whsec_c2VjcmV0" {
		t.Errorf("secret %q", s.Webhook.Secret)
	}
	if got := strings.Join(s.Webhook.Headers, "|"); got != "X-Static: 1|Authorization: Bearer t0k3n|X-Env: e" {
		t.Errorf("headers %q", got)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct{ src, want string }{
		{`@file("missing")`, `t.tsk:2:17: @file("missing"):`},
		{`@file("")`, `t.tsk:2:23: @file needs a path`},
		{`@file("` + dir + `")`, `is not a regular file`},
	} {
		_, err := Decode(filepath.Join(dir, "t.tsk"), []byte("[subscriptions.s]\nwebhook_secret: "+tc.src+"\n"), nil)
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.src, err, tc.want)
		}
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxFileReference+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(path, []byte("[nats]\npassword: @file(\"big\")\n"), nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a large file: %v", err)
	}
}

func TestSecurityKeysValidated(t *testing.T) {
	t.Parallel()
	c := Default()
	for key, val := range map[string]string{
		"commands.identity":                 "trust-me",
		"queries.identity":                  "whoever",
		"subscriptions.s.subjects":          "events.>",
		"subscriptions.s.webhook_url":       "https://h/x",
		"subscriptions.s.webhook_redirects": "anywhere",
		"subscriptions.s.webhook_headers":   "no colon",
		"nats.user":                         "jetflow",
	} {
		if err := c.Set(key, val); err != nil {
			t.Fatal(key, err)
		}
	}
	err := c.Validate()
	for _, want := range []string{
		`commands.identity: "trust-me": must be auto, nats or header`,
		`queries.identity: "whoever": must be auto, nats or header`,
		`subscriptions.s.webhook_redirects: "anywhere": must be none or same_origin`,
		`subscriptions.s.webhook_headers: element 1: want "Name: value"`,
		`nats.password: empty, but nats.user "jetflow" is set`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if d := Default(); d.Server.InsecureAllowAnonymous || d.Commands.Identity != "auto" || d.Queries.Identity != "auto" {
		t.Errorf("defaults: %+v %+v", d.Server, d.Commands)
	}
}
