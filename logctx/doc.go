// Package logctx carries log attributes in a context, so that every log
// line written while handling one request (a command, a message) names it,
// such as its correlation id, without threading a logger through each call.
// It also keeps secrets and floods out of logs: RedactURL hides a URL's
// password and query values, and RateLimit lets a repeated warning through
// once per interval.
package logctx
