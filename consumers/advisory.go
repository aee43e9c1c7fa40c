package consumers

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Advisory subjects and schema types published by nats-server (see
// server/jetstream_events.go); nats.go has no types for them.
const (
	AdvisoryMaxDeliveriesPrefix = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"
	AdvisoryTerminatedPrefix    = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED"
	AdvisoryMaxDeliveriesType   = "io.nats.jetstream.advisory.v1.max_deliver"
	AdvisoryTerminatedType      = "io.nats.jetstream.advisory.v1.terminated"
)

// AdvisoryKind says why a message was dead-lettered.
type AdvisoryKind string

const (
	// KindMaxDeliveries: the server gave up after MaxDeliver deliveries
	// without an ack (a handler that hung past its ack wait, or a message
	// returned at shutdown on its last delivery).
	KindMaxDeliveries AdvisoryKind = "max_deliveries"
	// KindTerminated: the message was terminated, by a worker (permanent
	// error or last retry failed; Reason is the error) or by the server
	// (e.g. removed by stream limits while pending).
	KindTerminated AdvisoryKind = "terminated"
)

// Advisory is a MAX_DELIVERIES or MSG_TERMINATED consumer advisory.
type Advisory struct {
	Kind        AdvisoryKind `json:"-"`
	Type        string       `json:"type"`
	ID          string       `json:"id"`
	Time        time.Time    `json:"timestamp"`
	Stream      string       `json:"stream"`
	Consumer    string       `json:"consumer"`
	ConsumerSeq uint64       `json:"consumer_seq,omitempty"` // terminated only
	StreamSeq   uint64       `json:"stream_seq"`
	Deliveries  uint64       `json:"deliveries"`
	Reason      string       `json:"reason,omitempty"` // terminated only
	Domain      string       `json:"domain,omitempty"`
}

// DecodeAdvisory decodes a dead-letter advisory. subject, when not empty,
// must be the advisory subject it was published on
// (<prefix>.<stream>.<consumer>) and agree with the body.
func DecodeAdvisory(subject string, data []byte) (Advisory, error) {
	var a Advisory
	if err := json.Unmarshal(data, &a); err != nil {
		return Advisory{}, fmt.Errorf("%w: %w", ErrNotAdvisory, err)
	}
	switch a.Type {
	case AdvisoryMaxDeliveriesType:
		a.Kind = KindMaxDeliveries
	case AdvisoryTerminatedType:
		a.Kind = KindTerminated
	default:
		return Advisory{}, fmt.Errorf("%w: type %q", ErrNotAdvisory, truncate(a.Type))
	}
	if a.Stream == "" || a.Consumer == "" || a.StreamSeq == 0 {
		return Advisory{}, fmt.Errorf("%w: stream, consumer and stream_seq are required", ErrNotAdvisory)
	}
	if subject != "" {
		prefix := AdvisoryTerminatedPrefix
		if a.Kind == KindMaxDeliveries {
			prefix = AdvisoryMaxDeliveriesPrefix
		}
		if subject != prefix+"."+a.Stream+"."+a.Consumer {
			return Advisory{}, fmt.Errorf("%w: subject %q does not match a %s advisory of %s/%s",
				ErrNotAdvisory, truncate(subject), a.Kind, truncate(a.Stream), truncate(a.Consumer))
		}
	}
	return a, nil
}

// Describe says why the message was dead-lettered, in words.
func (a Advisory) Describe() string {
	if a.Kind == KindMaxDeliveries {
		return fmt.Sprintf("not acknowledged after %d deliveries (max deliveries reached)", a.Deliveries)
	}
	if strings.TrimSpace(a.Reason) == "" {
		return "terminated without a reason"
	}
	return a.Reason
}
