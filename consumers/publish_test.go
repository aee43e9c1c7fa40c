package consumers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/wire"
)

func TestPublishWireForm(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pub := NewPublisher(e.js, WithPublisherClock(func() time.Time { return now }))
	ack, err := pub.Publish(testCtx(t), "orders", Outgoing{
		Key: "order.created", Data: []byte(`{"id":1}`), Priority: PriorityCritical, TTL: 1500 * time.Millisecond,
		MsgID: "m-1", CorrelationID: "corr", CausationID: "cause", UserID: "u-1",
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		Header:      nats.Header{"X-Tenant": {"acme"}, wire.HeaderCorrelationID: {"overridden"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.js.Stream(testCtx(t), "TOPIC_ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetMsg(testCtx(t), ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		wire.HeaderMsgID: "m-1", wire.HeaderCorrelationID: "corr", wire.HeaderCausationID: "cause", wire.HeaderUserID: "u-1",
		wire.HeaderTraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "X-Tenant": "acme",
		wire.HeaderTTL: "2s", wire.HeaderExpiresAt: "2026-03-01T12:00:01.500Z",
	}
	for k, v := range want {
		if got := raw.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if raw.Subject != "topic.orders.critical.order.created" || string(raw.Data) != `{"id":1}` {
		t.Errorf("stored %s %s", raw.Subject, raw.Data)
	}
	// Same id within the duplicate window: acknowledged, stored once.
	again, err := pub.Publish(testCtx(t), "orders", Outgoing{Data: []byte(`{"id":1}`), MsgID: "m-1"})
	if err != nil || !again.Duplicate {
		t.Fatalf("duplicate publish: %+v %v", again, err)
	}
	// No metadata: no headers at all.
	plain, err := pub.Publish(testCtx(t), "orders", Outgoing{Data: []byte(`x`)})
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := st.GetMsg(testCtx(t), plain.Sequence); err != nil || publishedHeaders(raw.Header) != nil || raw.Subject != "topic.orders.normal._" {
		t.Fatalf("plain message %+v %v", raw, err)
	}
}

func TestPublishValidation(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.topic(t, "orders")
	tests := []struct {
		topic string
		out   Outgoing
		want  error
	}{
		{"Orders", Outgoing{}, ErrInvalidTopic},
		{"or ders", Outgoing{}, ErrInvalidTopic},
		{"orders.>", Outgoing{}, ErrInvalidTopic},
		{"orders", Outgoing{Key: "a.*"}, ErrInvalidSubject},
		{"orders", Outgoing{Key: "a b"}, ErrInvalidSubject},
		{"orders", Outgoing{Key: "a."}, ErrInvalidSubject},
		{"orders", Outgoing{Priority: 7}, ErrInvalidPriority},
		{"orders", Outgoing{TTL: 500 * time.Millisecond}, ErrInvalidTTL},
		{"orders", Outgoing{TraceParent: "00-abc-def-01"}, ErrInvalidTraceParent},
		{"nosuchtopic", Outgoing{}, ErrTopicNotFound},
	}
	for _, tt := range tests {
		if _, err := e.pub.Publish(testCtx(t), tt.topic, tt.out); !errors.Is(err, tt.want) {
			t.Errorf("publish to %q %+v: got %v, want %v", tt.topic, tt.out, err, tt.want)
		}
	}
	if _, err := e.pub.PublishAsync(testCtx(t), "orders", Outgoing{Key: ">"}); !errors.Is(err, ErrInvalidSubject) {
		t.Errorf("async with a wildcard key: %v", err)
	}
}

func TestPublishAsyncAndBatch(t *testing.T) {
	t.Parallel()
	s := newTestEnv(t).srv
	_, js := s.JetStream(t)
	// A small window: PublishAsync must wait at the bound, not fail.
	nc := s.Connect(t)
	small, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureTopic(testCtx(t), js, TopicConfig{Name: "events-out", MemoryStorage: true}); err != nil {
		t.Fatal(err)
	}
	pub := NewPublisher(small)
	var futures []jetstream.PubAckFuture
	for range 500 {
		f, err := pub.PublishAsync(testCtx(t), "events-out", Outgoing{Data: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	if err := pub.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Sequence != uint64(i+1) {
				t.Fatalf("future %d acked sequence %d", i, ack.Sequence)
			}
		default:
			t.Fatalf("future %d not resolved after Flush", i)
		}
	}
	msgs := []Outgoing{{Data: []byte("a")}, {Key: "bad key"}, {Data: []byte("c")}}
	acks, err := pub.PublishBatch(testCtx(t), "events-out", msgs)
	if !errors.Is(err, ErrInvalidSubject) || !strings.Contains(err.Error(), "message 1") {
		t.Fatalf("batch error %v", err)
	}
	if acks[0] == nil || acks[1] != nil || acks[2] == nil || acks[2].Sequence != acks[0].Sequence+1 {
		t.Fatalf("batch acks %+v", acks)
	}
}

func TestTopicConfig(t *testing.T) {
	t.Parallel()
	cfg := TopicConfig{Name: "orders"}.StreamConfig()
	if cfg.Name != "TOPIC_ORDERS" || cfg.Subjects[0] != "topic.orders.>" || cfg.Retention != jetstream.LimitsPolicy ||
		!cfg.AllowMsgTTL || cfg.MaxAge != DefaultTopicRetention || cfg.Duplicates != DefaultTopicDuplicateWindow || cfg.Replicas != 1 {
		t.Fatalf("stream config %+v", cfg)
	}
	err := TopicConfig{Name: "Bad", Retention: time.Millisecond, Replicas: 9, DuplicateWindow: time.Hour, MaxMsgs: -1}.Validate()
	for _, want := range []string{"upper-case", "retention", "replicas", "duplicate window", "max msgs"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
	e := newTestEnv(t)
	if _, err := EnsureTopic(testCtx(t), e.js, TopicConfig{Name: "orders", Retention: time.Hour}); err != nil {
		t.Fatal(err)
	}
	st, err := EnsureTopic(testCtx(t), e.js, TopicConfig{Name: "orders", Retention: 2 * time.Hour})
	if err != nil || st.CachedInfo().Config.MaxAge != 2*time.Hour {
		t.Fatalf("update retention: %v", err)
	}
}
