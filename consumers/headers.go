package consumers

// Message headers jetflow reads and writes on topic messages. They are part
// of the wire contract: other languages and the nats CLI see them.
const (
	HeaderMsgID         = "Nats-Msg-Id" // deduplication id (server-side, duplicate window)
	HeaderTTL           = "Nats-TTL"    // per-message TTL, honoured by the server
	HeaderCorrelationID = "Jetflow-Correlation-Id"
	HeaderCausationID   = "Jetflow-Causation-Id"
	HeaderUserID        = "Jetflow-User-Id"
	HeaderTraceParent   = "traceparent" // W3C trace context, passed through untouched
	// HeaderExpiresAt is the message's expiry (RFC 3339, UTC, milliseconds).
	// The server removes expired messages on its own schedule; the worker
	// checks this header so an expired message is never handed to a handler.
	HeaderExpiresAt = "Jetflow-Expires-At"
	// HeaderReplayedFrom is set on a message republished from the DLQ; its
	// value is the dead letter's id (the DLQ stream sequence).
	HeaderReplayedFrom = "Jetflow-Replayed-From"
	// HeaderReplayFor names the subscription a replayed message is meant for;
	// other subscriptions of the topic acknowledge and skip it.
	HeaderReplayFor = "Jetflow-Replay-For"
)

// expiresAtLayout is RFC 3339 with fixed milliseconds, UTC.
const expiresAtLayout = "2006-01-02T15:04:05.000Z07:00"
