package userbench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jetflow/jetflow/internal/app"
	"github.com/jetflow/jetflow/internal/bench"
)

// Every bench scenario runs end to end on a small size and reports both
// rates: a scenario that breaks is caught here, not by the next person who
// needs its figures.
func TestEveryBenchScenarioRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario; skipped with -short")
	}
	t.Parallel()
	cmd := app.NewRootCmd(nil)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"bench", "--json", "--duration", "400ms", "--count", "400"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r bench.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not a JSON result: %q", line)
		}
		if r.Rate <= 0 || r.RawRate <= 0 || r.Ratio <= 0 || r.Unit == "" {
			t.Errorf("%s: incomplete result %+v", r.Scenario, r)
		}
		seen[r.Scenario] = true
		if r.Scenario == "load" {
			// Each of the three reads (jetflow, ordered consumer, headerless
			// direct get) must have been timed and its CPU counted.
			for _, m := range r.Metrics {
				if m.Value <= 0 {
					t.Errorf("load: metric %q is %v", m.Name, m.Value)
				}
			}
		}
	}
	for _, sc := range bench.Scenarios() {
		if !seen[sc.Name] {
			t.Errorf("scenario %s reported nothing", sc.Name)
		}
	}
}
