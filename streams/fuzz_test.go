package streams_test

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// FuzzDecodeLegacyMessage feeds arbitrary headers and payloads, as events
// were stored before commits, to the decoder: it must never panic, and
// what it accepts must be internally consistent.
func FuzzDecodeLegacyMessage(f *testing.F) {
	f.Add("events.user.u1", "id-1", "user.created", "user", "u1", "1", "1", "2026-01-02T03:04:05Z", []byte(`{"a":1}`))
	f.Add("events.user.u1", "", "", "", "", "x", "-1", "nope", []byte(`{`))
	f.Add("events.a.b.c", "id", "t", "a.b", "c", "18446744073709551616", "1", "2026-01-02T03:04:05Z", []byte(`null`))
	// Ids that are not Unicode or show nothing: 0xff, a lone surrogate's
	// UTF-8 form, a zero-width space.
	f.Add("events.user.\xff", "id", "user.created", "user", "\xff", "1", "1", "2026-01-02T03:04:05Z", []byte(`{}`))
	f.Add("events.user.\xed\xa0\x80", "id", "user.created", "user", "\xed\xa0\x80", "1", "1", "2026-01-02T03:04:05Z", []byte(`{}`))
	f.Add("events.user.\u200b", "id", "user.created", "user", "\u200b", "1", "1", "2026-01-02T03:04:05Z", []byte(`{"id":"\ud800"}`))
	f.Fuzz(func(t *testing.T, subject, id, typ, aggType, aggID, version, schema, at string, data []byte) {
		h := nats.Header{}
		for k, v := range map[string]string{
			wire.HeaderMsgID: id, wire.HeaderEventType: typ, wire.HeaderAggregateType: aggType,
			wire.HeaderAggregateID: aggID, wire.HeaderVersion: version, wire.HeaderSchema: schema,
			wire.HeaderOccurredAt: at,
		} {
			h.Set(k, v)
		}
		evs, err := streams.DecodeEvents(subject, h, data, 1)
		if err != nil {
			return
		}
		if len(evs) != 1 {
			t.Fatalf("%d events from one message of the format before commits", len(evs))
		}
		e := evs[0]
		if e.Version == 0 || e.Schema < 1 || e.ID == "" || !strings.HasSuffix(subject, "."+e.AggregateType+"."+e.AggregateID) {
			t.Fatalf("accepted an inconsistent event: %+v", e)
		}
		// A stored id need only be a subject token (the type's rule): ids of
		// invisible characters, refused for new events, stay readable.
		if streams.ValidateAggregateType(e.AggregateID) != nil || streams.ValidateAggregateType(e.AggregateType) != nil {
			t.Fatalf("accepted invalid names: %+v", e)
		}
	})
}
