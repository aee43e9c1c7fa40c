package bench

import (
	"context"
	"testing"
	"time"

	"github.com/jetflow/jetflow/internal/natsserver"
)

// With fsync policies given, each scenario runs once per policy, on a
// server of its own with that policy, and its results say which.
func TestRunOncePerSyncPolicy(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var got []Result
	err := Run(ctx, []string{"append"}, Options{Duration: 200 * time.Millisecond,
		Syncs: []natsserver.Sync{{}, {Always: true}}}, func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Sync != "default" || got[1].Sync != "always" {
		t.Fatalf("results %+v, want append with sync default, then always", got)
	}
	for _, r := range got {
		if r.Scenario != "append" || r.Rate <= 0 || r.RawRate <= 0 {
			t.Errorf("result %+v measured nothing", r)
		}
	}
}
