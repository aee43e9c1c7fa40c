package rpc

import (
	"sync"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/jetflow/jetflow/wire"
)

// EndpointStats is what one endpoint did since the service started,
// counted as each handler answers. micro's own figures for the endpoint
// stop at the hand-off to the pool (its processing time is the hand-off's,
// its error count stays 0), so `nats micro stats` shows these in each
// endpoint's "data".
type EndpointStats struct {
	Handled               uint64        `json:"handled"`
	Errors                uint64        `json:"errors"`
	LastError             string        `json:"last_error,omitempty"`
	InFlight              int64         `json:"in_flight"`
	ProcessingTime        time.Duration `json:"processing_time"`
	AverageProcessingTime time.Duration `json:"average_processing_time"`
}

// endpointCounters accumulates one endpoint's EndpointStats.
type endpointCounters struct {
	mu sync.Mutex
	s  EndpointStats
}

func (c *endpointCounters) begin() {
	c.mu.Lock()
	c.s.InFlight++
	c.mu.Unlock()
}

func (c *endpointCounters) end(took time.Duration, e *wire.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.InFlight--
	c.s.Handled++
	c.s.ProcessingTime += took
	if e != nil {
		c.s.Errors++
		c.s.LastError = e.Code + ": " + e.Message
	}
}

func (c *endpointCounters) snapshot() EndpointStats {
	c.mu.Lock()
	s := c.s
	c.mu.Unlock()
	if s.Handled > 0 {
		s.AverageProcessingTime = s.ProcessingTime / time.Duration(s.Handled)
	}
	return s
}

// Stats returns each endpoint's figures, by subject.
func (s *Server) Stats() map[string]EndpointStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]EndpointStats, len(s.counters))
	for subject, c := range s.counters {
		out[subject] = c.snapshot()
	}
	return out
}

// microStats answers micro's STATS request for one endpoint.
func (s *Server) microStats(e *micro.Endpoint) any {
	if c := s.counters[e.Subject]; c != nil {
		return c.snapshot()
	}
	return nil
}
