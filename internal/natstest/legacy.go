package natstest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/wire"
)

// LegacyEvent is one event as jetflow stored it before commits: one
// message per event, its data as the body and every other field in a
// header. Streams written then are still read; tests write such events
// with PublishLegacy.
type LegacyEvent struct {
	Subject                    string
	ID, Type                   string
	AggregateType, AggregateID string
	Version                    uint64
	Schema                     int
	OccurredAt                 time.Time
	CorrelationID, CausationID string
	UserID, Source             string
	TraceParent                string
	Data                       []byte
	// After is the expected last subject sequence, as the store checked it.
	After uint64
}

// PublishLegacy stores ev on the event stream the way jetflow did before
// commits, and returns its sequence.
func PublishLegacy(t testing.TB, js jetstream.JetStream, ev LegacyEvent) uint64 {
	t.Helper()
	h := nats.Header{}
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set(wire.HeaderMsgID, ev.ID)
	set(wire.HeaderEventType, ev.Type)
	set(wire.HeaderAggregateType, ev.AggregateType)
	set(wire.HeaderAggregateID, ev.AggregateID)
	set(wire.HeaderVersion, strconv.FormatUint(ev.Version, 10))
	schema := ev.Schema
	if schema == 0 {
		schema = 1
	}
	set(wire.HeaderSchema, strconv.Itoa(schema))
	at := ev.OccurredAt
	if at.IsZero() {
		at = time.Now()
	}
	set(wire.HeaderOccurredAt, at.UTC().Format(time.RFC3339Nano))
	set(wire.HeaderCorrelationID, ev.CorrelationID)
	set(wire.HeaderCausationID, ev.CausationID)
	set(wire.HeaderUserID, ev.UserID)
	set(wire.HeaderSource, ev.Source)
	set(wire.HeaderTraceParent, ev.TraceParent)
	h.Set("Nats-Expected-Last-Subject-Sequence", strconv.FormatUint(ev.After, 10))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: ev.Subject, Header: h, Data: ev.Data})
	if err != nil {
		t.Fatalf("natstest: publish legacy event %s: %v", ev.Type, err)
	}
	return ack.Sequence
}
