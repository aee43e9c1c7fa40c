package processes

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/streams"
)

// order is the state of the tests' order process.
type order struct {
	Requested bool `json:"requested"`
	Paid      bool `json:"paid"`
	Cancelled bool `json:"cancelled,omitempty"`
}

// orderProcess: on order.placed request payment and set payment_due in
// 30 minutes; on payment.received (its order_id) mark the order paid and
// end; when payment_due fires, cancel the order and end.
func orderProcess() Definition[order] {
	return Definition[order]{
		Name:           "payment",
		AggregateTypes: []string{"order", "payment"},
		On: []On[order]{
			{Event: "order.placed", Start: true, Handle: func(_ context.Context, p Instance[order], ev streams.Event) (Step[order], error) {
				return Step[order]{
					State:     order{Requested: true},
					Commands:  []Command{{Name: "ledger.record", Body: recordCmd{ID: "pay-" + p.ID, Note: "request"}}},
					Deadlines: []Deadline{{Name: "payment_due", After: 30 * time.Minute, Payload: map[string]string{"order": p.ID}}},
				}, nil
			}},
			{Event: "payment.received", Instances: Field("order_id"), Handle: func(_ context.Context, p Instance[order], ev streams.Event) (Step[order], error) {
				s := p.State
				s.Paid = true
				return Step[order]{
					State:    s,
					Commands: []Command{{Name: "ledger.record", Body: recordCmd{ID: "order-" + p.ID, Note: "paid"}}},
					Cancel:   []string{"payment_due"},
					End:      true,
				}, nil
			}},
		},
		Deadlines: map[string]DeadlineHandler[order]{
			"payment_due": func(_ context.Context, p Instance[order], d Fired) (Step[order], error) {
				s := p.State
				s.Cancelled = true
				return Step[order]{
					State:    s,
					Commands: []Command{{Name: "ledger.record", Body: recordCmd{ID: "order-" + p.ID, Note: "cancelled"}}},
					End:      true,
				}, nil
			},
		},
	}
}

func ev(typ, aggType, id string, seq uint64, data any) streams.Event {
	raw, _ := json.Marshal(data)
	return streams.Event{ID: typ + "-" + id, Type: typ, AggregateType: aggType, AggregateID: id, Sequence: seq, Data: raw}
}

func TestDefinitionValidate(t *testing.T) {
	t.Parallel()
	noop := func(context.Context, Instance[order], streams.Event) (Step[order], error) { return Step[order]{}, nil }
	for _, tc := range []struct {
		name string
		def  Definition[order]
		want []string
	}{
		{"ok", orderProcess(), nil},
		{"no name", Definition[order]{On: []On[order]{{Event: "a.b", Start: true, Handle: noop}}}, []string{"needs a name"}},
		{"bad name", Definition[order]{Name: "Pay.ment", On: []On[order]{{Event: "a.b", Start: true, Handle: noop}}}, []string{`character 'P'`}},
		{"nothing", Definition[order]{Name: "p"}, []string{"handles no event"}},
		{"no start", Definition[order]{Name: "p", On: []On[order]{{Event: "a.b", Handle: noop}}}, []string{"no event starts"}},
		{"twice and no handler", Definition[order]{Name: "p", On: []On[order]{{Event: "a.b", Start: true, Handle: noop}, {Event: "a.b"}}},
			[]string{`"a.b" handled twice`, `"a.b" has no handler`}},
		{"bad deadline", Definition[order]{Name: "p", On: []On[order]{{Event: "a.b", Start: true, Handle: noop}},
			Deadlines: map[string]DeadlineHandler[order]{"due.soon": nil}}, []string{`"due.soon" has no handler`, `character '.'`}},
		{"bad aggregate type", Definition[order]{Name: "p", AggregateTypes: []string{"a.b"}, On: []On[order]{{Event: "a.b", Start: true, Handle: noop}}},
			[]string{"aggregate type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.def.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidDefinition) {
				t.Fatalf("%v, want ErrInvalidDefinition", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}

func TestFieldAssociation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path, data string
		want       []string
		err        string
	}{
		{"order_id", `{"order_id":"o-1"}`, []string{"o-1"}, ""},
		{"ref.order", `{"ref":{"order":"o-2"}}`, []string{"o-2"}, ""},
		{"orders", `{"orders":["o-1","o-2"]}`, []string{"o-1", "o-2"}, ""},
		{"order_id", `{}`, nil, `no field "order_id"`},
		{"order_id", `{"order_id":7}`, nil, "is a number"},
		{"orders", `{"orders":["o-1",2]}`, nil, "orders[1] is json.Number"},
		{"ref.order", `{"ref":"x"}`, nil, "not an object"},
		{"order_id", `nope`, nil, "not JSON"},
	} {
		got, err := Field(tc.path)(streams.Event{Type: "x.y", Data: json.RawMessage(tc.data)})
		if tc.err != "" {
			if !errors.Is(err, ErrAssociation) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Field(%q) of %s: %v, want an error saying %q", tc.path, tc.data, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Field(%q) of %s = %v, %v; want %v", tc.path, tc.data, got, err, tc.want)
		}
	}
}

func TestInstanceKeys(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"o-1", "ORD_7", "user@example.com", "a.b", "ünï", "=x", "a b"} {
		key := InstanceKey(id)
		if strings.ContainsAny(key, ". *>") {
			t.Errorf("key of %q = %q: not one token", id, key)
		}
		back, err := InstanceID(key)
		if err != nil || back != id {
			t.Errorf("InstanceID(%q) = %q, %v; want %q", key, back, err, id)
		}
	}
	for _, key := range []string{"", "=!!", "a.b", "=b3"} {
		if _, err := InstanceID(key); !errors.Is(err, ErrInvalidInstance) {
			t.Errorf("InstanceID(%q): %v, want ErrInvalidInstance", key, err)
		}
	}
	for _, id := range []string{"", " o", "a\nb", strings.Repeat("x", 257)} {
		if err := ValidateInstanceID(id); !errors.Is(err, ErrInvalidInstance) {
			t.Errorf("ValidateInstanceID(%q): %v", id, err)
		}
	}
	if a, b := CommandID("p", "o-1", "ev-1", 0), CommandID("p", "o-1", "ev-1", 1); a == b || a != CommandID("p", "o-1", "ev-1", 0) {
		t.Errorf("command ids %s %s: want stable and distinct per position", a, b)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (Config{}).Validate("p"); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	err := Config{Bucket: "a.b", DeadlineTopic: "Dead", Replicas: 9, KeepEnded: time.Millisecond, History: 5000, MaxRetries: -7}.Validate("p")
	for _, want := range []string{"bucket", "deadline topic", "replicas 9", "keep ended", "history 5000", "max retries -7"} {
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: does not say %q", err, want)
		}
	}
}

func TestSimulationRunsTheProcess(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sim, err := NewSimulation(orderProcess(), start)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A payment for an order with no process: skipped.
	out, err := sim.Event(ctx, ev("payment.received", "payment", "pay-9", 1, map[string]string{"order_id": "o-9"}))
	if err != nil || len(out) != 1 || out[0].Skipped != ReasonNotStarted {
		t.Fatalf("payment without order: %+v, %v", out, err)
	}
	placed := ev("order.placed", "order", "o-1", 2, nil)
	out, err = sim.Event(ctx, placed)
	if err != nil || len(out) != 1 || !out[0].Started || len(out[0].Commands) != 1 || len(out[0].Set) != 1 {
		t.Fatalf("placed: %+v, %v", out, err)
	}
	if c := out[0].Commands[0]; c.ID != CommandID("payment", "o-1", placed.ID, 0) || c.Name != "ledger.record" ||
		string(c.Body) != `{"id":"pay-o-1","note":"request"}` {
		t.Errorf("command %+v", c)
	}
	if d := out[0].Set[0]; !d.At.Equal(start.Add(30*time.Minute)) || string(d.Payload) != `{"order":"o-1"}` {
		t.Errorf("deadline %+v", d)
	}
	// The same event again is a redelivery.
	if again, _ := sim.Event(ctx, placed); len(again) != 1 || again[0].Skipped != ReasonDuplicate {
		t.Errorf("redelivered: %+v", again)
	}
	if _, err := sim.Event(ctx, ev("order.placed", "order", "o-2", 3, nil)); err != nil {
		t.Fatal(err)
	}
	// o-1 pays after 10 minutes: its deadline is cancelled and it ends.
	if _, err := sim.Advance(ctx, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	out, err = sim.Event(ctx, ev("payment.received", "payment", "pay-1", 4, map[string]string{"order_id": "o-1"}))
	if err != nil || len(out) != 1 || !out[0].Ended || !slices.Equal(out[0].Cancelled, []string{"payment_due"}) {
		t.Fatalf("paid: %+v, %v", out, err)
	}
	// o-2's deadline fires at 12:30; o-1's never does.
	fired, err := sim.Advance(ctx, 25*time.Minute)
	if err != nil || len(fired) != 1 || fired[0].Instance != "o-2" || fired[0].Message != "deadline payment_due" || !fired[0].Ended {
		t.Fatalf("advance: %+v, %v", fired, err)
	}
	v, ok := sim.Instance("o-2")
	if !ok || v.Status != StatusEnded || !v.State.Cancelled || len(v.Deadlines) != 0 || v.Steps != 2 {
		t.Errorf("o-2 %+v", v)
	}
	if h := v.Handled; len(h) != 2 || h[1].Kind != KindDeadline || !h[1].At.Equal(start.Add(30*time.Minute)) {
		t.Errorf("o-2 handled %+v: want the deadline handled at its time", h)
	}
	// Late events for ended instances are skipped.
	if late, _ := sim.Event(ctx, ev("payment.received", "payment", "pay-2", 5, map[string]string{"order_id": "o-2"})); len(late) != 1 || late[0].Skipped != ReasonEnded {
		t.Errorf("late payment: %+v", late)
	}
	if got := sim.Instances(); !slices.Equal(got, []string{"o-1", "o-2"}) {
		t.Errorf("instances %v", got)
	}
}

func TestSimulationHandlerFailures(t *testing.T) {
	t.Parallel()
	boom := orderProcess()
	boom.On = append(boom.On,
		On[order]{Event: "order.broken", Handle: func(context.Context, Instance[order], streams.Event) (Step[order], error) {
			panic("broken handler")
		}},
		On[order]{Event: "order.odd", Handle: func(context.Context, Instance[order], streams.Event) (Step[order], error) {
			return Step[order]{Deadlines: []Deadline{{Name: "unknown", After: time.Second}}}, nil
		}},
		On[order]{Event: "order.badcmd", Handle: func(context.Context, Instance[order], streams.Event) (Step[order], error) {
			return Step[order]{Commands: []Command{{Name: "nodot"}}}, nil
		}},
	)
	sim, err := NewSimulation(boom, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := sim.Event(ctx, ev("order.placed", "order", "o-1", 1, nil)); err != nil {
		t.Fatal(err)
	}
	before, _ := sim.Instance("o-1")
	for typ, want := range map[string]error{"order.broken": ErrHandlerPanicked, "order.odd": ErrInvalidStep, "order.badcmd": ErrInvalidStep} {
		if _, err := sim.Event(ctx, ev(typ, "order", "o-1", 2, nil)); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", typ, err, want)
		}
	}
	after, _ := sim.Instance("o-1")
	if after.Steps != before.Steps || len(after.Handled) != len(before.Handled) {
		t.Errorf("a failed step changed the instance: %+v → %+v", before, after)
	}
}
