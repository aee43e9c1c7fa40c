package consumers

import (
	"encoding/json"
	"errors"
	"testing"
)

// Bodies as nats-server 2.15 publishes them (server/jetstream_events.go).
const (
	termAdvisory = `{"type":"io.nats.jetstream.advisory.v1.terminated","id":"Xy","timestamp":"2026-01-02T03:04:05.123456789Z",` +
		`"stream":"TOPIC_ORDERS","consumer":"billing-normal","consumer_seq":7,"stream_seq":42,"deliveries":4,"reason":"card declined"}`
	maxAdvisory = `{"type":"io.nats.jetstream.advisory.v1.max_deliver","id":"Ab","timestamp":"2026-01-02T03:04:05Z",` +
		`"stream":"EVENTS","consumer":"projector","stream_seq":9,"deliveries":5}`
)

func TestDecodeAdvisory(t *testing.T) {
	t.Parallel()
	a, err := DecodeAdvisory(AdvisoryTerminatedPrefix+".TOPIC_ORDERS.billing-normal", []byte(termAdvisory))
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind != KindTerminated || a.Stream != "TOPIC_ORDERS" || a.Consumer != "billing-normal" || a.StreamSeq != 42 ||
		a.ConsumerSeq != 7 || a.Deliveries != 4 || a.Reason != "card declined" || a.Time.Nanosecond() != 123456789 {
		t.Fatalf("decoded %+v", a)
	}
	if a.Describe() != "card declined" {
		t.Errorf("describe: %q", a.Describe())
	}
	m, err := DecodeAdvisory(AdvisoryMaxDeliveriesPrefix+".EVENTS.projector", []byte(maxAdvisory))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindMaxDeliveries || m.Deliveries != 5 || m.Describe() != "not acknowledged after 5 deliveries (max deliveries reached)" {
		t.Fatalf("decoded %+v: %s", m, m.Describe())
	}
	bad := []struct{ subject, body string }{
		{"", `not json`},
		{"", `{"type":"io.nats.jetstream.advisory.v1.nak","stream":"S","consumer":"C","stream_seq":1}`},
		{"", `{"type":"io.nats.jetstream.advisory.v1.terminated","consumer":"C","stream_seq":1}`},
		{"", `{"type":"io.nats.jetstream.advisory.v1.terminated","stream":"S","consumer":"C"}`},
		{"", `{"type":"io.nats.jetstream.advisory.v1.terminated","stream":"S","consumer":"C","stream_seq":-1}`},
		{AdvisoryMaxDeliveriesPrefix + ".TOPIC_ORDERS.billing-normal", termAdvisory}, // wrong kind of subject
		{AdvisoryTerminatedPrefix + ".TOPIC_ORDERS.other", termAdvisory},             // wrong consumer
	}
	for _, b := range bad {
		if _, err := DecodeAdvisory(b.subject, []byte(b.body)); !errors.Is(err, ErrNotAdvisory) {
			t.Errorf("%s %s: got %v, want ErrNotAdvisory", b.subject, b.body, err)
		}
	}
}

func FuzzDecodeAdvisory(f *testing.F) {
	f.Add(AdvisoryTerminatedPrefix+".TOPIC_ORDERS.billing-normal", []byte(termAdvisory))
	f.Add(AdvisoryMaxDeliveriesPrefix+".EVENTS.projector", []byte(maxAdvisory))
	f.Add("", []byte(`{"type":"io.nats.jetstream.advisory.v1.terminated","stream":"S","consumer":"C","stream_seq":1,"reason":"\u0000"}`))
	f.Add("x", []byte(`{}`))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		a, err := DecodeAdvisory(subject, data)
		if err != nil {
			if !errors.Is(err, ErrNotAdvisory) {
				t.Fatalf("error %v is not ErrNotAdvisory", err)
			}
			return
		}
		if a.Stream == "" || a.Consumer == "" || a.StreamSeq == 0 || (a.Kind != KindTerminated && a.Kind != KindMaxDeliveries) {
			t.Fatalf("accepted an incomplete advisory: %+v", a)
		}
		if a.Describe() == "" {
			t.Fatal("empty description")
		}
		// What we decoded re-encodes to the same advisory.
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeAdvisory("", b)
		if err == nil && again.Time.Equal(a.Time) {
			again.Time = a.Time // same instant; the location may differ
		}
		if err != nil || again != a {
			t.Fatalf("re-decode: %+v, %v; want %+v", again, err, a)
		}
	})
}
