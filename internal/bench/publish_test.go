package bench

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
)

// The raw side of the publish scenario waits out a stalled async window,
// as consumers.Publisher does, instead of failing the scenario with
// ErrTooManyStalledMsgs when the server lags past nats.go's stall wait.
func TestRawPublishWaitsOutStall(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	// A stream that acks 500ms late, on the real server.
	sub, err := srv.Connect(t).Subscribe("lagging", func(m *nats.Msg) {
		time.Sleep(500 * time.Millisecond)
		_ = m.Respond([]byte(`{"stream":"LAGGING","seq":1}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err := jetstream.New(srv.Connect(t), jetstream.WithPublishAsyncMaxPending(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub := rawPublish(js, "lagging", true, "t-")
	for i := range 2 {
		if err := pub(ctx, i); err != nil {
			t.Fatalf("raw publish %d: %v", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
}
