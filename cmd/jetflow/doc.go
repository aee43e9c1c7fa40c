// Command jetflow runs the jetflow platform (serve, worker), talks to a
// running one (send, events, query, projections, dlq, config) and measures it
// (bench). It holds wiring and flags only; behaviour lives in the packages.
package main
