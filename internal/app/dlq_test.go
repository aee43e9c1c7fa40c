package app

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/natstest"
)

// TestDLQCommands: list, show, replay --dry-run, replay and discard against
// dead letters a real worker produced.
func TestDLQCommands(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	_, js := srv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := consumers.EnsureTopic(ctx, js, consumers.TopicConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	w, err := consumers.NewWorker(js, consumers.Subscription{Name: "billing", Topic: "orders",
		Handler: func(context.Context, *consumers.Message) error {
			return consumers.Permanent(errors.New("card declined"))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Stop(ctx)
	pub := consumers.NewPublisher(js)
	for _, key := range []string{"a", "b"} {
		if _, err := pub.Publish(ctx, "orders", consumers.Outgoing{Key: key, Data: []byte(`{"key":"` + key + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	dlq := consumers.NewDLQ(js, consumers.DLQConfig{})
	var list []consumers.DeadLetter
	for deadline := time.Now().Add(10 * time.Second); len(list) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no dead letters")
		}
		if list, err = dlq.List(ctx, consumers.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	first := strconv.FormatUint(list[0].ID, 10)

	run := func(args ...string) (string, error) {
		cmd := newDLQCmd(&loader{})
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(args, "--nats-url", srv.URL))
		err := cmd.ExecuteContext(ctx)
		return out.String(), err
	}
	expect := func(out string, err error, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, s := range want {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	}
	out, err := run("list", "--topic", "orders")
	expect(out, err, "ID", "topic orders", "billing", "topic.orders.normal.a", "topic.orders.normal.b", "card declined")
	out, err = run("show", first)
	expect(out, err, "kind:", "terminated", "subscription:  billing (consumer billing-normal)", "subject:", `{"key":"a"}`)
	out, err = run("replay", "--all", "--dry-run")
	expect(out, err, "would replay "+first+" to topic.orders.normal.a for billing", "would replay 2, skipped 0")
	if left, _ := dlq.List(ctx, consumers.ListOptions{}); len(left) != 2 {
		t.Fatalf("dry run changed the DLQ: %d left", len(left))
	}
	out, err = run("discard", first)
	expect(out, err, "discarded dead letter "+first)
	out, err = run("replay", strconv.FormatUint(list[1].ID, 10))
	expect(out, err, "replayed "+strconv.FormatUint(list[1].ID, 10)+" to topic.orders.normal.b for billing (topic sequence 3)")
	if _, err := run("show", "x"); err == nil || !strings.Contains(err.Error(), "positive number") {
		t.Errorf("show x: %v", err)
	}
	if _, err := run("replay", "1", "--all"); err == nil {
		t.Error("replay with an id and --all must fail")
	}
	if _, err := run("show", first); !errors.Is(err, consumers.ErrDeadLetterNotFound) {
		t.Errorf("show of a discarded letter: %v", err)
	}
}
