package wire

// Inboxes: the subjects replies go to.
const (
	// InboxPrefix is the NATS clients' reply inbox.
	InboxPrefix = "_INBOX"
	// ServiceInboxPrefix is the reply inbox of jetflow's own service
	// processes (serve, worker). The shipped deploy/nats/accounts.conf lets
	// only the service user subscribe to it, so an application connected as
	// a client cannot read the services' JetStream replies (direct gets of
	// events, consumer deliveries, KV reads).
	ServiceInboxPrefix = "_JETFLOW_INBOX"
	// ImportReplyPrefix is where a NATS server routes the reply to a
	// request that reached the service through a service import from
	// another account (nats-server's "_R_." response subjects): the
	// server maps it back to the requester's own inbox.
	ImportReplyPrefix = "_R_"
)

// ReplyPrefixes are the subject prefixes a service publishes replies to.
// NATS checks a requester's right to publish to the request subject, not to
// its reply subject, and a reply goes out with the service's rights: a
// request whose reply subject is not an inbox could write into the event
// store or a topic, so the services do not answer it.
func ReplyPrefixes() []string {
	return []string{InboxPrefix + ".", ServiceInboxPrefix + ".", ImportReplyPrefix + "."}
}

// Reserved reports whether a subject's first token belongs to the server
// ($JS, $KV, $SRV, any $…) or to reply inboxes, so that nothing of
// jetflow's own (event subjects, command and query prefixes) may start
// with it.
func Reserved(firstToken string) bool {
	return len(firstToken) > 0 && firstToken[0] == '$' || firstToken == InboxPrefix || firstToken == ServiceInboxPrefix ||
		firstToken == ImportReplyPrefix
}
