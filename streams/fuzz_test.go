package streams_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/streams"
)

// FuzzDecodeMessage feeds arbitrary headers and payloads to the decoder: it
// must never panic, and what it accepts must be internally consistent.
func FuzzDecodeMessage(f *testing.F) {
	f.Add("events.user.u1", "id-1", "user.created", "user", "u1", "1", "1", "2026-01-02T03:04:05Z", []byte(`{"a":1}`))
	f.Add("events.user.u1", "", "", "", "", "x", "-1", "nope", []byte(`{`))
	f.Add("events.a.b.c", "id", "t", "a.b", "c", "18446744073709551616", "1", "2026-01-02T03:04:05Z", []byte(`null`))
	f.Fuzz(func(t *testing.T, subject, id, typ, aggType, aggID, version, schema, at string, data []byte) {
		h := nats.Header{}
		for k, v := range map[string]string{
			streams.HeaderEventID: id, streams.HeaderEventType: typ, streams.HeaderAggregateType: aggType,
			streams.HeaderAggregateID: aggID, streams.HeaderVersion: version, streams.HeaderSchema: schema,
			streams.HeaderOccurredAt: at,
		} {
			h.Set(k, v)
		}
		e, err := streams.DecodeMessage(subject, h, data, 1)
		if err != nil {
			return
		}
		if e.Version == 0 || e.Schema < 1 || e.ID == "" || !strings.HasSuffix(subject, "."+e.AggregateType+"."+e.AggregateID) {
			t.Fatalf("accepted an inconsistent event: %+v", e)
		}
		if streams.ValidateAggregateID(e.AggregateID) != nil || streams.ValidateAggregateType(e.AggregateType) != nil {
			t.Fatalf("accepted invalid names: %+v", e)
		}
	})
}
