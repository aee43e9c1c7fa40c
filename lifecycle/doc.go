// Package lifecycle owns the one shape every long-running part of jetflow
// has — Start with a context, Stop with a context, Done and Err to learn
// that it ended on its own — and the Group that runs such parts as one:
// started in order, and when the first of them fails (or the context
// ends) every other is stopped in reverse order, as oklog/run runs its
// actors. The command and query services, the projection runner and its
// views, workers, the embedded server and the HTTP endpoints all have
// this shape; `jetflow serve` runs them in a Group, and so can a program
// that assembles the libraries itself. HTTPServer gives an *http.Server
// that shape.
package lifecycle
