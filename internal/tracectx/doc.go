// Package tracectx carries a W3C trace context (the traceparent header)
// through a context, so work caused by a traced change — the events a
// command writes, the messages a handler publishes, the log lines of both —
// keeps the same trace id without every caller threading it by hand. No
// exporter is needed: the header itself is what travels.
package tracectx
