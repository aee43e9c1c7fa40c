// Package rpc owns what jetflow's NATS micro services share on the wire:
// strict JSON decoding of requests, the error reply (micro's
// Nats-Service-Error headers plus a JSON body with a code and a message),
// the status codes, and the request headers clients may send.
package rpc
