package bench

import (
	"context"
	"errors"
	"testing"
	"time"
)

// With --replicas 3 the event store's scenarios run on a 3-node cluster
// and say so; a scenario that measures one server only is refused by
// name, not run on one server under a cluster's label.
func TestReplicatedScenariosRunOnACluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var got []Result
	err := Run(ctx, []string{"append-batch"}, Options{Duration: 200 * time.Millisecond, Replicas: 3},
		func(r Result) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Replicas != 3 || got[0].Rate <= 0 || got[0].RawRate <= 0 {
		t.Fatalf("results %+v, want one append-batch measured on 3 replicas", got)
	}
	err = Run(ctx, []string{"publish"}, Options{Duration: 200 * time.Millisecond, Replicas: 3}, func(Result) {})
	if !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("publish on a cluster: err %v, want ErrNotReplicated", err)
	}
}
