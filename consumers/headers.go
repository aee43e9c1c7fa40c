package consumers

// Topic messages carry wire's headers (wire.HeaderMsgID, wire.HeaderTTL,
// wire.HeaderExpiresAt, wire.HeaderReplayedFrom…).

// expiresAtLayout is RFC 3339 with fixed milliseconds, UTC.
const expiresAtLayout = "2006-01-02T15:04:05.000Z07:00"
