package app

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/natstest"
)

func TestPublishCommand(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	_, js := srv.JetStream(t)
	if _, err := consumers.EnsureTopic(context.Background(), js, consumers.TopicConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := newPublishCmd(&loader{})
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(args, "--nats-url", srv.URL))
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	got, err := run("orders", `{"amount":1}`, "--key", "order.created", "--priority", "high", "--msg-id", "m-1")
	if err != nil || !strings.Contains(got, "sequence 1") {
		t.Fatalf("publish: %q %v", got, err)
	}
	if got, err := run("orders", `{"amount":1}`, "--key", "order.created", "--msg-id", "m-1"); err != nil || !strings.Contains(got, "duplicate") {
		t.Fatalf("republish: %q %v", got, err)
	}
	st, _ := js.Stream(context.Background(), "TOPIC_ORDERS")
	msg, err := st.GetMsg(context.Background(), 1)
	if err != nil || msg.Subject != "topic.orders.high.order.created" {
		t.Fatalf("stored %v %v", msg, err)
	}
	if _, err := run("orders", `{}`, "--priority", "urgent"); err == nil {
		t.Fatal("an unknown priority must be refused")
	}
	if _, err := run("Bad.Topic", `{}`); err == nil {
		t.Fatal("an invalid topic must be refused")
	}
}
