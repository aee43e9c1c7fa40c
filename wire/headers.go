package wire

// Headers of an event message in the event store (DESIGN.md, "Wire
// contract"). A topic message carries the ones that apply to it.
const (
	// HeaderMsgID is the event's (or message's) id: JetStream drops a
	// second message with the same id within the duplicate window.
	HeaderMsgID         = "Nats-Msg-Id"
	HeaderEventType     = "Jetflow-Event-Type"
	HeaderAggregateType = "Jetflow-Aggregate-Type"
	HeaderAggregateID   = "Jetflow-Aggregate-Id"
	// HeaderVersion is the event's 1-based version within its aggregate.
	HeaderVersion = "Jetflow-Version"
	// HeaderSchema is the event's schema version, an integer.
	HeaderSchema        = "Jetflow-Schema"
	HeaderCorrelationID = "Jetflow-Correlation-Id"
	HeaderCausationID   = "Jetflow-Causation-Id"
	HeaderUserID        = "Jetflow-User-Id"
	HeaderSource        = "Jetflow-Source"
	// HeaderOccurredAt is when the event happened, RFC 3339 in UTC.
	HeaderOccurredAt = "Jetflow-Occurred-At"
	// HeaderTraceParent is the W3C trace context, passed on untouched.
	HeaderTraceParent = "traceparent"
)

// Headers a client may send with a command (HeaderCorrelationID,
// HeaderUserID and HeaderTraceParent too).
const (
	// HeaderCommandID makes a resend idempotent: the same id with the same
	// command is answered from its first run.
	HeaderCommandID = "Jetflow-Command-Id"
	// HeaderExpectedVersion refuses the command (409) unless the aggregate
	// is at this version.
	HeaderExpectedVersion = "Jetflow-Expected-Version"
)

// Headers of replies.
const (
	// HeaderSequence on a query reply is the stream sequence the read
	// model had applied when it answered.
	HeaderSequence = "Jetflow-Sequence"
	// HeaderDuplicate on a command reply is "true" when the request was a
	// resend answered from the first run of its Jetflow-Command-Id.
	HeaderDuplicate = "Jetflow-Duplicate"
)

// Headers of topic messages (HeaderMsgID, HeaderCorrelationID,
// HeaderCausationID, HeaderUserID and HeaderTraceParent too).
const (
	// HeaderTTL is a message's time to live, honoured by the server.
	HeaderTTL = "Nats-TTL"
	// HeaderExpiresAt is the message's expiry (RFC 3339, UTC,
	// milliseconds): a worker never hands an expired message to a handler.
	HeaderExpiresAt = "Jetflow-Expires-At"
	// HeaderReplayedFrom is set on a message republished from the DLQ; its
	// value is the dead letter's id (the DLQ stream sequence).
	HeaderReplayedFrom = "Jetflow-Replayed-From"
	// HeaderReplayFor names the subscription a replayed message is meant
	// for; other subscriptions of the topic acknowledge and skip it.
	HeaderReplayFor = "Jetflow-Replay-For"
)

// Headers of scheduled topic messages: set on the schedule a publisher
// stores, and copied by the server onto the message it delivers at the
// scheduled time.
const (
	// HeaderScheduleID is the id a scheduled message is cancelled by.
	HeaderScheduleID = "Jetflow-Schedule-Id"
	// HeaderScheduleToken is unique to one schedule of an id: a
	// cancellation names it, so that it cancels that schedule and not a
	// later one with the same id.
	HeaderScheduleToken = "Jetflow-Schedule-Token"
	// HeaderScheduledAt is the time the message was scheduled for
	// (RFC 3339, UTC, whole seconds).
	HeaderScheduledAt = "Jetflow-Scheduled-At"
)

// HasControl reports whether s holds an ASCII control character (or DEL),
// which would break or forge a NATS header line.
func HasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}
