package streams

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// AsyncPublisher is the part of jetstream.JetStream that publishes
// asynchronously.
type AsyncPublisher interface {
	PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
}

// PublishAsync publishes m asynchronously and returns its ack's future. When the
// in-flight limit (jetstream.WithPublishAsyncMaxPending) is reached,
// nats.go waits its stall wait (jetstream.WithStallWait, default 200ms)
// for acks and then gives up with jetstream.ErrTooManyStalledMsgs;
// PublishAsync tries again, for as long as ctx lets it, so a server that lags slows the
// caller down rather than failing it. It returns ctx's error, wrapped with
// the stall, when ctx ends first, and any other error at once.
func PublishAsync(ctx context.Context, js AsyncPublisher, m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	for {
		f, err := js.PublishMsgAsync(m, opts...)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return nil, err
		}
		// The stall itself waited; check ctx before waiting again.
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("%w while stalled: %w", cerr, err)
		}
	}
}
