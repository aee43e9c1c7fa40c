package consumers

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/wire"
)

func TestChainOrder(t *testing.T) {
	t.Parallel()
	var trace []string
	mw := func(name string) Middleware {
		return func(next Handler) Handler {
			return func(ctx context.Context, m *Message) error {
				trace = append(trace, name+">")
				err := next(ctx, m)
				trace = append(trace, "<"+name)
				return err
			}
		}
	}
	h := Chain(func(context.Context, *Message) error { trace = append(trace, "h"); return nil }, mw("a"), mw("b"))
	if err := h(context.Background(), testMessage("topic.orders.normal._", "{}", nil)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(trace, " "); got != "a> b> h <b <a" {
		t.Fatalf("order: %s", got)
	}
}

func TestRecover(t *testing.T) {
	t.Parallel()
	h := Chain(func(context.Context, *Message) error { panic("boom") }, Recover())
	err := h(context.Background(), testMessage("s", "", nil))
	var pe *PanicError
	if !errors.Is(err, ErrPanic) || !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 || IsPermanent(err) {
		t.Fatalf("recovered %v", err)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	h := Chain(func(ctx context.Context, _ *Message) error {
		<-ctx.Done()
		return ctx.Err()
	}, Timeout(20*time.Millisecond))
	start := time.Now()
	err := h(context.Background(), testMessage("s", "", nil))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 20ms") || IsPermanent(err) {
		t.Fatalf("timeout error %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %s", d)
	}
	// A worker that stops is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h(ctx, testMessage("s", "", nil)); !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "timed out") {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestLogging(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fail := Chain(func(context.Context, *Message) error { return Permanent(errors.New("bad input")) }, Logging(logger))
	ok := Chain(func(context.Context, *Message) error { return nil }, Logging(logger))
	m := testMessage("topic.orders.normal._", "{}", nats.Header{wire.HeaderCorrelationID: {"corr-1"}})
	_ = fail(context.Background(), m)
	_ = ok(context.Background(), m)
	out := buf.String()
	for _, want := range []string{"level=WARN msg=\"handler failed\"", "error=\"bad input\"", "permanent=true",
		"correlation_id=corr-1", "subject=topic.orders.normal._", "level=DEBUG msg=handled", "attempt=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
