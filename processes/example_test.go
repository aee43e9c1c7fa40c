package processes_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
)

type payment struct {
	Requested bool `json:"requested"`
}

// A process that asks for an order's payment and cancels the order when
// none arrives within 30 minutes, run in memory on a clock of its own. A
// Manager (processes.New, or jetflow.Process in an App) runs the same
// definition on NATS.
func ExampleSimulation() {
	def := processes.Definition[payment]{
		Name: "payment",
		On: []processes.On[payment]{
			{Event: "order.placed", Start: true, Handle: func(_ context.Context, p processes.Instance[payment], _ streams.Event) (processes.Step[payment], error) {
				return processes.Step[payment]{
					State:     payment{Requested: true},
					Commands:  []processes.Command{{Name: "payment.request", Body: map[string]string{"order_id": p.ID}}},
					Deadlines: []processes.Deadline{{Name: "payment_due", After: 30 * time.Minute}},
				}, nil
			}},
			{Event: "payment.received", Instances: processes.Field("order_id"), Handle: func(_ context.Context, p processes.Instance[payment], _ streams.Event) (processes.Step[payment], error) {
				return processes.Step[payment]{State: p.State, Commands: []processes.Command{{Name: "order.mark_paid", Body: map[string]string{"id": p.ID}}}, End: true}, nil
			}},
		},
		Deadlines: map[string]processes.DeadlineHandler[payment]{
			"payment_due": func(_ context.Context, p processes.Instance[payment], _ processes.Fired) (processes.Step[payment], error) {
				return processes.Step[payment]{State: p.State, Commands: []processes.Command{{Name: "order.cancel", Body: map[string]string{"id": p.ID}}}, End: true}, nil
			},
		},
	}
	sim, err := processes.NewSimulation(def, time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	show := func(outs []processes.Outcome) {
		for _, o := range outs {
			for _, c := range o.Commands {
				fmt.Printf("%s: %s %s\n", o.Instance, c.Name, c.Body)
			}
			if o.Ended {
				fmt.Printf("%s: ended\n", o.Instance)
			}
		}
	}
	for _, id := range []string{"o-1", "o-2"} {
		out, _ := sim.Event(ctx, streams.Event{ID: "placed-" + id, Type: "order.placed", AggregateType: "order", AggregateID: id})
		show(out)
	}
	out, _ := sim.Event(ctx, streams.Event{ID: "paid-1", Type: "payment.received", Data: []byte(`{"order_id":"o-1"}`)})
	show(out)
	out, _ = sim.Advance(ctx, time.Hour)
	show(out)
	// Output:
	// o-1: payment.request {"order_id":"o-1"}
	// o-2: payment.request {"order_id":"o-2"}
	// o-1: order.mark_paid {"id":"o-1"}
	// o-1: ended
	// o-2: order.cancel {"id":"o-2"}
	// o-2: ended
}
