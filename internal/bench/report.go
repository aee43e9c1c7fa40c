package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes one result as a JSON line.
func WriteJSON(w io.Writer, r Result) error {
	return json.NewEncoder(w).Encode(r)
}

// WriteText writes one result as a readable block.
func WriteText(w io.Writer, r Result) error {
	var b strings.Builder
	name := r.Scenario
	if r.Replicas > 1 {
		name += fmt.Sprintf(" R%d", r.Replicas)
	}
	if r.Sync != "" {
		name += " sync=" + r.Sync
	}
	fmt.Fprintf(&b, "%-18s jetflow %12s %-9s raw %12s %-9s ratio %5.2f", name,
		humanRate(r.Rate), r.Unit, humanRate(r.RawRate), "("+r.RawName+")", r.Ratio)
	if r.Target != "" {
		fmt.Fprintf(&b, "  target %s", r.Target)
	}
	b.WriteByte('\n')
	for _, m := range r.Metrics {
		fmt.Fprintf(&b, "%-18s   %-28s %10.3f %s\n", "", m.Name, m.Value, m.Unit)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func humanRate(v float64) string {
	return fmt.Sprintf("%.0f", v)
}
