package platform_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jetflow/jetflow/internal/platform"
	"github.com/jetflow/jetflow/streams"
)

// TestUnreachableErrorRedactsPassword: the unreachable error names
// the server but must not carry the password of a URL with credentials
// (jetflow logs and prints this error).
func TestUnreachableErrorRedactsPassword(t *testing.T) {
	t.Parallel()
	_, err := platform.Start(ctx(t), platform.Config{NATSURL: "nats://jetflow:s3cr3t-pw@127.0.0.1:1", Streams: streams.DefaultConfig()})
	if !errors.Is(err, platform.ErrUnreachable) {
		t.Fatalf("unreachable server: %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t-pw") || !strings.Contains(err.Error(), "nats://jetflow:xxxxx@127.0.0.1:1") {
		t.Fatalf("error leaks the password or hides the server: %v", err)
	}
}

func TestRedactURLs(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"nats://a:4222":                      "nats://a:4222",
		"nats://token-s3cret@a:4222":         "nats://xxxxx@a:4222", // a user alone is a token to nats.go
		"u:pw@a:4222":                        "u:xxxxx@a:4222",
		"nats://u:pw@a:4222, tls://u:p2@b:1": "nats://u:xxxxx@a:4222, tls://u:xxxxx@b:1",
		"not a url":                          "not a url",
	} {
		if got := platform.RedactURLs(in); got != want {
			t.Errorf("RedactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}
