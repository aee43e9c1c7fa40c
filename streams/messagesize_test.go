package streams

import (
	"encoding/json"
	"testing"
	"time"
)

// messageSize counts what header() builds, without building it: the two
// must agree or a too-large event is sent (and refused by the server) or a
// fitting one refused.
func TestMessageSizeIsTheEncodedMessage(t *testing.T) {
	t.Parallel()
	for _, ev := range []Event{
		{ID: "a", Type: "t", AggregateType: "user", AggregateID: "u1", Version: 1, Schema: 1, Data: json.RawMessage(`{}`)},
		{ID: NewEventID(), Type: "order.placed", AggregateType: "order", AggregateID: "o-9", Version: 18446744073709551615, Schema: 12,
			OccurredAt: time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.FixedZone("x", 3600)), Data: json.RawMessage(`{"lines":[1,2,3]}`),
			Metadata: Metadata{CorrelationID: "c", CausationID: "k", UserID: "u", Source: "jetflow-commands",
				TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
	} {
		n := len("NATS/1.0\r\n\r\n") + len(ev.Data)
		for k, vs := range ev.header() {
			for _, v := range vs {
				n += len(k) + len(": ") + len(v) + len("\r\n")
			}
		}
		if got := ev.messageSize(); got != n {
			t.Errorf("messageSize of %s = %d, the encoded message is %d", ev.Type, got, n)
		}
	}
}
