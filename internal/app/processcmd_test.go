package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
)

// runRoot runs the command line of d with args against url.
func runCLI(d *Domain, url string, args ...string) (string, error) {
	cmd := NewRootCmd(d)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append(args, "--nats-url", url))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestPublishLaterListAndCancel(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	_, js := srv.JetStream(t)
	if _, err := consumers.EnsureTopic(context.Background(), js, consumers.TopicConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	d := &Domain{}
	got, err := runCLI(d, srv.URL, "publish", "orders", `{"id":"o-1"}`, "--in", "1h", "--msg-id", "remind-o-1", "--key", "order.remind")
	if err != nil || !strings.Contains(got, "scheduled remind-o-1 on orders for ") || !strings.Contains(got, "jetflow schedules cancel orders remind-o-1") {
		t.Fatalf("publish --in: %q %v", got, err)
	}
	got, err = runCLI(d, srv.URL, "publish", "orders", `{"id":"o-2"}`, "--at", "2099-12-24T18:00:00Z", "--msg-id", "xmas")
	if err != nil || !strings.Contains(got, "for 2099-12-24T18:00:00Z") {
		t.Fatalf("publish --at: %q %v", got, err)
	}
	got, err = runCLI(d, srv.URL, "schedules", "ls")
	if err != nil || !strings.Contains(got, "TOPIC") || strings.Index(got, "remind-o-1") > strings.Index(got, "xmas") ||
		!strings.Contains(got, "order.remind") || !strings.Contains(got, "12 bytes") {
		t.Fatalf("schedules ls: %q %v", got, err)
	}
	got, err = runCLI(d, srv.URL, "schedules", "ls", "--topic", "orders", "--json")
	var first scheduledLine
	if err != nil || json.Unmarshal([]byte(strings.SplitN(got, "\n", 2)[0]), &first) != nil || first.ID != "remind-o-1" || first.Topic != "orders" {
		t.Fatalf("schedules ls --json: %q %v", got, err)
	}
	if got, err := runCLI(d, srv.URL, "schedules", "cancel", "orders", "remind-o-1"); err != nil || !strings.Contains(got, "cancelled remind-o-1") {
		t.Fatalf("cancel: %q %v", got, err)
	}
	if _, err := runCLI(d, srv.URL, "schedules", "cancel", "orders", "remind-o-1"); err == nil || !strings.Contains(err.Error(), "is not scheduled") {
		t.Fatalf("second cancel: %v", err)
	}
	if left, err := consumers.ListScheduled(context.Background(), js, "orders"); err != nil || len(left) != 1 || left[0].ID != "xmas" {
		t.Fatalf("left %+v %v", left, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--at", "tomorrow"}, "--at must be an RFC 3339 time"},
		{[]string{"--in", "-1s"}, "--in"},
		{[]string{"--in", "1m", "--at", "2099-01-01T00:00:00Z"}, "give one of them"},
	} {
		_, err := runCLI(d, srv.URL, append([]string{"publish", "orders", "{}"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("publish %v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

type waiting struct {
	Since time.Time `json:"since"`
}

func waitingProcess() processes.Definition[waiting] {
	return processes.Definition[waiting]{
		Name: "payment",
		On: []processes.On[waiting]{{Event: "order.placed", Start: true,
			Handle: func(_ context.Context, p processes.Instance[waiting], _ streams.Event) (processes.Step[waiting], error) {
				return processes.Step[waiting]{State: waiting{Since: p.Now}, Deadlines: []processes.Deadline{{Name: "payment_due", After: time.Hour}}}, nil
			}}},
		Deadlines: map[string]processes.DeadlineHandler[waiting]{"payment_due": func(_ context.Context, p processes.Instance[waiting], _ processes.Fired) (processes.Step[waiting], error) {
			return processes.Step[waiting]{State: p.State, End: true}, nil
		}},
	}
}

func TestProcessesLsAndShow(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc, js := srv.JetStream(t)
	ctx := context.Background()
	scfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, scfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, scfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := processes.New(nc, waitingProcess(), processes.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	if _, err := store.Append(ctx, "order", "o-1", streams.Position{}, streams.Event{Type: "order.placed", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	d := &Domain{Processes: []Process{{Name: "payment", New: nil}, {Name: "refunds"}}}
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for {
		got, err = runCLI(d, srv.URL, "processes", "ls")
		if err == nil && strings.Contains(got, "payment  proc_payment  1        0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes ls: %q %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(got, "refunds  proc_refunds  0") {
		t.Errorf("a registered process without a bucket yet is not listed: %q", got)
	}
	got, err = runCLI(d, srv.URL, "processes", "show", "payment", "o-1")
	for _, want := range []string{"status:   running", "steps:    1", `"since":`, "payment_due", "event  order.placed"} {
		if err != nil || !strings.Contains(got, want) {
			t.Errorf("processes show: %v, does not say %q:\n%s", err, want, got)
		}
	}
	got, err = runCLI(d, srv.URL, "processes", "show", "payment", "o-1", "--json")
	var rec processes.Record
	if err != nil || json.Unmarshal([]byte(got), &rec) != nil || rec.ID != "o-1" || len(rec.Deadlines) != 1 {
		t.Errorf("processes show --json: %q %v", got, err)
	}
	if _, err := runCLI(d, srv.URL, "processes", "show", "payment", "o-9"); !errors.Is(err, processes.ErrInstanceNotFound) {
		t.Errorf("show of an unknown instance: %v", err)
	}
	if _, err := runCLI(d, srv.URL, "processes", "show", "Pay.ment", "o-1"); !errors.Is(err, processes.ErrInvalidDefinition) {
		t.Errorf("show of a bad name: %v", err)
	}
	got, err = runCLI(d, srv.URL, "schedules", "ls")
	if err != nil || !strings.Contains(got, "deadline payment_due of payment o-1") {
		t.Errorf("schedules ls does not show the deadline: %q %v", got, err)
	}
}
