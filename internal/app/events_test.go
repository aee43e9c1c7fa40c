package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// TestEventsSaysWhyNothingIsShown: `events … --after N` past the last event
// said the user "has no events"; `--stream NOPE` said "direct get: status
// 503". Now: how many events there are and the last sequence, and which
// stream is missing with the ones that exist.
func TestEventsSaysWhyNothingIsShown(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	_, js := srv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	cfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	res, err := store.Append(ctx, "user", "u1", streams.Position{},
		streams.Event{Type: "user.created", Data: []byte(`{"a":1}`)}, streams.Event{Type: "user.updated", Data: []byte(`{"a":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	last := res.LastSequence
	url := []string{"--nats-url", srv.URL}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "user", "u1", "--after", fmt.Sprint(last)}, fmt.Sprintf("user u1 has 2 events (last sequence %d); none after %d", last, last)},
		{[]string{"events", "user", "u1", "--after", fmt.Sprint(last + 100)}, fmt.Sprintf("user u1 has 2 events (last sequence %d); none after %d", last, last+100)},
		{[]string{"events", "user", "nobody", "--after", "5"}, "user nobody has no events"},
		{[]string{"events", "user", "nobody"}, "user nobody has no events"},
	} {
		stdout, stderr, err := runRoot(t, append(tc.args, url...)...)
		if err != nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: err %v, stderr %q, want %q", tc.args, err, stderr, tc.want)
		}
		if strings.Contains(stdout, "user.created") {
			t.Errorf("%v printed events: %s", tc.args, stdout)
		}
	}
	// Both events are one commit, at one sequence: --after the one before
	// shows them both.
	if stdout, _, err := runRoot(t, append([]string{"events", "user", "u1", "--after", fmt.Sprint(last - 1)}, url...)...); err != nil ||
		!strings.Contains(stdout, "user.updated") || !strings.Contains(stdout, "user.created") {
		t.Errorf("--after %d: %v\n%s", last-1, err, stdout)
	}

	_, _, err = runRoot(t, append([]string{"events", "user", "u1", "--stream", "NOPE"}, url...)...)
	if !errors.Is(err, jetstream.ErrStreamNotFound) || !strings.Contains(err.Error(), "stream NOPE does not exist (streams on this server: EVENTS") ||
		!strings.Contains(err.Error(), "--stream") || strings.Contains(err.Error(), "503") {
		t.Errorf("--stream NOPE: %v", err)
	}
}
