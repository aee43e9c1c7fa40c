// Package tally is the process of the two-serve test
// (processes/twoserve_test.go): its binary (../main.go) serves it, and
// the test runs it serially in a processes.Simulation to compare.
package tally

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
)

// Names on the wire.
const (
	Name          = "tally"
	AggregateType = "counter"
	EventAdded    = "counter.added"
)

// Added is the data of counter.added.
type Added struct {
	N int `json:"n"`
}

// State is what an instance has counted. Every event changes every field,
// so an update that is lost (a step decided on a state another process
// had already moved on from) shows as a count, a sum and a value missing,
// and one applied twice as a value listed twice. Values is kept sorted,
// so the state does not depend on the order the events were handled in
// (two processes handle one instance's events in either order).
type State struct {
	Count  int   `json:"count"`
	Sum    int   `json:"sum"`
	Values []int `json:"values"`
}

// Definition is the process: each counter.added of counter <id> adds its
// n to instance <id>, which the first one starts.
func Definition() processes.Definition[State] {
	return processes.Definition[State]{
		Name:           Name,
		AggregateTypes: []string{AggregateType},
		On: []processes.On[State]{{
			Event: EventAdded, Start: true,
			Handle: func(_ context.Context, p processes.Instance[State], ev streams.Event) (processes.Step[State], error) {
				var d Added
				if err := json.Unmarshal(ev.Data, &d); err != nil {
					return processes.Step[State]{}, fmt.Errorf("%s: %w", ev.Type, err)
				}
				s := p.State
				s.Count++
				s.Sum += d.N
				i, _ := slices.BinarySearch(s.Values, d.N)
				s.Values = slices.Insert(slices.Clone(s.Values), i, d.N)
				return processes.Step[State]{State: s}, nil
			},
		}},
	}
}
