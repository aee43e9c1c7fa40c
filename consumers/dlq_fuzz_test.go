package consumers

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetflow/jetflow/wire"
)

// FuzzDeadLetterReplay feeds what a dead letter is made of, all of it
// outside input (an advisory from the DLQ stream, the original message's
// subject, headers and body from its topic), to the decoder and to the
// message a replay republishes. Decoding never panics and refuses
// anything that is not an advisory with ErrNotAdvisory; a replay goes to
// the original's subject with its body untouched, for the dead letter's
// subscription only, under an id derived from the dead letter, and
// carries none of the server's or an earlier replay's headers.
func FuzzDeadLetterReplay(f *testing.F) {
	f.Add(AdvisoryTerminatedPrefix+".TOPIC_ORDERS.billing-normal", []byte(termAdvisory),
		"topic.orders.normal.order.created", "Nats-Msg-Id", "o-1", "Jetflow-Correlation-Id", "c-1", []byte(`{"amount":120}`))
	f.Add(AdvisoryMaxDeliveriesPrefix+".EVENTS.projector", []byte(maxAdvisory),
		"events.user.u1", "Jetflow-Event-Type", "user.created", "Nats-Expected-Last-Subject-Sequence", "0", []byte(`{}`))
	f.Add("", []byte(`{"type":"io.nats.jetstream.advisory.v1.terminated","stream":"TOPIC_A","consumer":"s-high","stream_seq":1}`),
		"topic.a.high._", wire.HeaderReplayedFrom, "3", wire.HeaderReplayFor, "other", []byte(nil))
	f.Fuzz(func(t *testing.T, subject string, advisory []byte, origSubject, k1, v1, k2, v2 string, data []byte) {
		dl, err := decodeDeadLetter(9, subject, advisory)
		if err != nil {
			if !errors.Is(err, ErrNotAdvisory) {
				t.Fatalf("error %v is not ErrNotAdvisory", err)
			}
			return
		}
		if dl.ID != 9 || dl.Stream == "" || dl.Consumer == "" || dl.StreamSeq == 0 || dl.Reason == "" {
			t.Fatalf("incomplete dead letter: %+v", dl)
		}
		if dl.Topic != "" && TopicStream(dl.Topic) != dl.Stream {
			t.Fatalf("topic %q does not own stream %q", dl.Topic, dl.Stream)
		}
		h := nats.Header{}
		h.Add(k1, v1)
		h.Add(k2, v2)
		dl.Original = &Original{Subject: origSubject, Header: publishedHeaders(h), Data: data}
		m := replayMsg("DLQ", dl)
		if m.Subject != origSubject || string(m.Data) != string(data) {
			t.Fatalf("replay to %q with %q, want the original %q with %q", m.Subject, m.Data, origSubject, data)
		}
		if got := m.Header.Get(wire.HeaderReplayedFrom); got != strconv.FormatUint(dl.ID, 10) {
			t.Fatalf("%s = %q", wire.HeaderReplayedFrom, got)
		}
		if got := m.Header.Values(wire.HeaderReplayFor); len(got) != 1 || got[0] != dl.Subscription {
			t.Fatalf("%s = %q, want only %q", wire.HeaderReplayFor, got, dl.Subscription)
		}
		if got := m.Header.Values(wire.HeaderMsgID); len(got) != 1 || got[0] != "jetflow-replay-DLQ-9" {
			t.Fatalf("%s = %q", wire.HeaderMsgID, got)
		}
		for k := range m.Header {
			if strings.HasPrefix(k, "Nats-") && k != wire.HeaderMsgID {
				t.Fatalf("the replay carries the server's header %s", k)
			}
		}
		if len(m.Header.Values(wire.HeaderReplayedFrom)) != 1 {
			t.Fatalf("an earlier replay's %s survived: %q", wire.HeaderReplayedFrom, m.Header.Values(wire.HeaderReplayedFrom))
		}
	})
}
