// Package netproxy owns the TCP proxy that fault tests and the chaos
// harness put between NATS clients and servers, and between cluster
// nodes: on its own loopback port, forwarding to a target it can be told
// later, and able to cut every connection as a partition that drops
// packets does (nothing refused, nothing reset) and to heal it.
package netproxy
