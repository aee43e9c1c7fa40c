package consumers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
)

// testEnv is one embedded server with a connection and a JetStream context.
type testEnv struct {
	srv *natstest.Server
	nc  *nats.Conn
	js  jetstream.JetStream
	pub *Publisher
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	s := natstest.RunServer(t)
	nc, js := s.JetStream(t)
	return &testEnv{srv: s, nc: nc, js: js, pub: NewPublisher(js)}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *testEnv) topic(t *testing.T, name string) {
	t.Helper()
	if _, err := EnsureTopic(testCtx(t), e.js, TopicConfig{Name: name}); err != nil {
		t.Fatalf("ensure topic %s: %v", name, err)
	}
}

func (e *testEnv) publish(t *testing.T, topic string, out Outgoing) *jetstream.PubAck {
	t.Helper()
	ack, err := e.pub.Publish(testCtx(t), topic, out)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return ack
}

// publishN publishes n messages with data {"n":i} and ids m-<i>.
func (e *testEnv) publishN(t *testing.T, topic string, n int, p Priority) {
	t.Helper()
	msgs := make([]Outgoing, n)
	for i := range msgs {
		msgs[i] = Outgoing{Data: fmt.Appendf(nil, `{"n":%d}`, i), MsgID: fmt.Sprintf("%s-%d", p, i), Priority: p}
	}
	if _, err := e.pub.PublishBatch(testCtx(t), topic, msgs); err != nil {
		t.Fatalf("publish batch: %v", err)
	}
}

// startWorker starts a worker on sub; t.Cleanup stops it.
func (e *testEnv) startWorker(t *testing.T, sub Subscription, opts ...WorkerOption) *Worker {
	t.Helper()
	w, err := NewWorker(e.js, sub, opts...)
	if err != nil {
		t.Fatalf("new worker: %v", err)
	}
	if err := w.Start(testCtx(t)); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	})
	return w
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is a handler that records what it saw.
type recorder struct {
	mu    sync.Mutex
	seen  []*seenMsg
	count map[string]int // by message id
	fn    func(ctx context.Context, m *Message) error
}

type seenMsg struct {
	id, subject string
	data        []byte
	header      nats.Header
	attempt     int
	at          time.Time
}

func newRecorder(fn func(ctx context.Context, m *Message) error) *recorder {
	return &recorder{count: map[string]int{}, fn: fn}
}

func (r *recorder) handle(ctx context.Context, m *Message) error {
	r.mu.Lock()
	r.seen = append(r.seen, &seenMsg{id: m.ID(), subject: m.Subject(), data: append([]byte(nil), m.Data()...),
		header: m.Header(), attempt: m.Attempt(), at: time.Now()})
	r.count[m.ID()]++
	r.mu.Unlock()
	if r.fn != nil {
		return r.fn(ctx, m)
	}
	return nil
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.count)
}

func (r *recorder) snapshot() []*seenMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*seenMsg(nil), r.seen...)
}

// deadLetters waits until the DLQ lists n letters matching q and returns them.
func deadLetters(t *testing.T, d *DLQ, q ListOptions, n int) []DeadLetter {
	t.Helper()
	var got []DeadLetter
	waitFor(t, 10*time.Second, fmt.Sprintf("%d dead letters", n), func() bool {
		var err error
		got, err = d.List(testCtx(t), q)
		if err != nil {
			t.Fatalf("list dead letters: %v", err)
		}
		return len(got) >= n
	})
	if len(got) != n {
		t.Fatalf("dead letters: got %d, want %d: %+v", len(got), n, got)
	}
	return got
}
