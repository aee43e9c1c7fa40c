// Package console owns the web console `jetflow serve` runs at /ui/ when
// [console] enabled is set: server-rendered pages (html/template, with
// the stylesheet and a small script embedded) to look at a running
// platform and act on it. The overview shows the NATS connection, the
// event stream, the commands and queries per second from the process's
// own metrics and the readiness checks; the aggregates page an
// aggregate's state, last snapshot and events; the projections page their
// status and lag, with rebuild (progress polled live), skip and resume;
// the dead-letters page filters, inspects and replays dead letters (a dry
// run first); the processes page the process managers, their instances
// and one instance's state, deadlines and history (read only); the
// commands page sends any registered command.
//
// Every action goes through the same library call, with the same
// configuration, as its jetflow CLI counterpart (projections.Admin,
// consumers.DLQ, client.Client, streams.Store, processes.Show), so the
// console reaches no NATS subject the CLI does not. It is guarded (auth.go): a token, as a
// bearer header or a login cookie, is required unless the console
// listens on loopback only; every change is a POST with a CSRF token, and
// is logged.
package console
