// Package jsasync owns the one way jetflow publishes asynchronously to
// JetStream when the in-flight window is full: it waits out the stall
// (until the caller's context ends) instead of failing. consumers'
// Publisher and the bench's raw side both publish through it, so a lagging
// server slows both alike and crashes neither.
package jsasync
