package app

// serviceInboxPrefix is the reply inbox of jetflow's own service processes
// (serve, worker). deploy/nats/accounts.conf (included by nats.conf) lets the
// service user subscribe to it and no client, so an application connected as
// the command/query client user cannot read the services' JetStream replies
// (direct gets of events, consumer deliveries, KV reads) on _INBOX.>.
const serviceInboxPrefix = "_JETFLOW_INBOX"
