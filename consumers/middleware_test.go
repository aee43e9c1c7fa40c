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
	m := testMessage("topic.orders.normal._", "{}", nats.Header{HeaderCorrelationID: {"corr-1"}})
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

func TestMetrics(t *testing.T) {
	t.Parallel()
	var subs []string
	var errs []error
	obs := HandlerObserverFunc(func(sub string, d time.Duration, err error) {
		subs = append(subs, sub)
		errs = append(errs, err)
		if d < 0 {
			t.Error("negative duration")
		}
	})
	boom := errors.New("boom")
	h := Chain(func(_ context.Context, m *Message) error {
		if string(m.Data()) == "fail" {
			return boom
		}
		return nil
	}, Metrics(obs))
	_ = h(context.Background(), testMessage("s", "ok", nil))
	_ = h(context.Background(), testMessage("s", "fail", nil))
	if len(subs) != 2 || subs[0] != "sub" || errs[0] != nil || !errors.Is(errs[1], boom) {
		t.Fatalf("observed %v %v", subs, errs)
	}
}

func TestGate(t *testing.T) {
	t.Parallel()
	t.Run("slots bound concurrency", func(t *testing.T) {
		g := newGate(2, time.Now)
		if !g.acquire(2) || !g.acquire(2) {
			t.Fatal("two free slots")
		}
		got := make(chan bool, 1)
		go func() { got <- g.acquire(2) }()
		select {
		case <-got:
			t.Fatal("a third acquire must wait")
		case <-time.After(20 * time.Millisecond):
		}
		g.release(2, nil, 0)
		if !<-got {
			t.Fatal("released slot not granted")
		}
	})
	t.Run("most urgent waiter first", func(t *testing.T) {
		g := newGate(1, time.Now)
		g.acquire(3)
		order := make(chan int, 3)
		for _, l := range []int{3, 2, 0} {
			go func() {
				if g.acquire(l) {
					order <- l
					g.release(l, nil, 0)
				}
			}()
			waitFor(t, time.Second, "the waiter", func() bool {
				g.mu.Lock()
				defer g.mu.Unlock()
				return len(g.waiters[l]) == 1
			})
		}
		g.release(3, nil, 0)
		if a, b, c := <-order, <-order, <-order; a != 0 || b != 2 || c != 3 {
			t.Fatalf("granted %d %d %d, want 0 2 3", a, b, c)
		}
	})
	t.Run("claim holds lower levels back until used or expired", func(t *testing.T) {
		now := time.Now()
		clock := func() time.Time { return now }
		g := newGate(1, clock)
		g.setClaim(0, 2, time.Hour)
		got := make(chan bool, 1)
		go func() { got <- g.acquire(3) }()
		select {
		case <-got:
			t.Fatal("low level ran while critical held a claim")
		case <-time.After(20 * time.Millisecond):
		}
		g.acquire(0)
		g.release(0, nil, 0)
		g.acquire(0) // the claim of two is used up now
		g.release(0, nil, 0)
		if !<-got {
			t.Fatal("low level not granted after the claim was used")
		}
		g.release(3, nil, 0)
		g2 := newGate(1, time.Now)
		g2.setClaim(1, 5, 30*time.Millisecond)
		start := time.Now()
		if !g2.acquire(2) {
			t.Fatal("not granted")
		}
		if d := time.Since(start); d < 25*time.Millisecond {
			t.Fatalf("granted after %s, before the claim expired", d)
		}
	})
	t.Run("release renews a claim when more is pending", func(t *testing.T) {
		g := newGate(1, time.Now)
		g.acquire(0)
		got := make(chan bool, 1)
		go func() { got <- g.acquire(3) }()
		waitFor(t, time.Second, "the low waiter", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.waiters[3]) == 1 })
		g.release(0, func() bool { return true }, time.Hour)
		select {
		case <-got:
			t.Fatal("low level ran although critical said more was coming")
		case <-time.After(20 * time.Millisecond):
		}
		g.acquire(0)
		g.release(0, func() bool { return false }, time.Hour)
		if !<-got {
			t.Fatal("not granted")
		}
	})
	t.Run("close fails waiters and later acquires", func(t *testing.T) {
		g := newGate(1, time.Now)
		g.acquire(1)
		got := make(chan bool, 1)
		go func() { got <- g.acquire(1) }()
		waitFor(t, time.Second, "the waiter", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return len(g.waiters[1]) == 1 })
		g.close()
		if <-got || g.acquire(0) {
			t.Fatal("acquire after close must fail")
		}
	})
}
