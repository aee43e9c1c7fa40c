// Package logctx carries log attributes in a context, so that every log
// line written while handling one request (a command, a message) names it,
// such as its correlation id, without threading a logger through each call.
package logctx
