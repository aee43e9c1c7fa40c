package streams

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
)

// slowStream answers JetStream publishes on subject like a stream that lags
// by delay (never, for a negative delay); it runs on the real server.
func slowStream(t *testing.T, nc *nats.Conn, subject string, delay time.Duration) {
	t.Helper()
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		if delay < 0 {
			return
		}
		time.Sleep(delay)
		_ = m.Respond([]byte(`{"stream":"SLOW","seq":1}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
}

// With the in-flight window full for longer than nats.go's stall wait
// (200ms), PublishAsync keeps waiting instead of failing with
// ErrTooManyStalledMsgs, and gives up when ctx ends.
func TestPublishWaitsOutStall(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	slowStream(t, srv.Connect(t), "slow", 500*time.Millisecond)
	slowStream(t, srv.Connect(t), "never", -1)
	js, err := jetstream.New(srv.Connect(t), jetstream.WithPublishAsyncMaxPending(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 2 {
		f, err := PublishAsync(ctx, js, &nats.Msg{Subject: "slow", Data: []byte("x")})
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatalf("publish %d not acked: %v", i, err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}

	if _, err := PublishAsync(ctx, js, &nats.Msg{Subject: "never", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	_, err = PublishAsync(short, js, &nats.Msg{Subject: "never", Data: []byte("x")})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
		t.Fatalf("stalled past ctx: %v, want the deadline and the stall", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("gave up after %s, want about ctx's 300ms", took)
	}
}
