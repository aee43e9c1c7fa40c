package app

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/projections"
)

func TestProjectionReportsShowFailures(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 10, 0, time.UTC)
	failure := &projections.Failure{Sequence: 42, Type: "user.updated", Subject: "events.user.u1", Error: "boom"}
	reports := []projections.Report{{
		Meta: projections.Meta{Name: "users"},
		Active: projections.GenerationReport{
			Generation: projections.Generation{Number: 1, Bucket: "rm_users"}, AckFloor: 41, Pending: 7,
			Status: &projections.Status{State: projections.StateFailed, Failure: failure, UpdatedAt: now.Add(-10 * time.Second)},
		},
		Rebuild: &projections.GenerationReport{Generation: projections.Generation{Number: 2, Bucket: "rm_users_g2"}},
	}, {
		Meta:   projections.Meta{Name: "carts", Retired: []projections.Generation{{Number: 1, Bucket: "rm_carts", Consumer: "jetflow_projection_carts_g1"}}},
		Active: projections.GenerationReport{Generation: projections.Generation{Number: 2, Bucket: "rm_carts_g2"}},
	}}
	var b bytes.Buffer
	if err := writeProjectionReports(&b, reports, now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"users  1    rm_users     failed, no runner      41        7    0/s   10s ago",
		"users  2    rm_users_g2  not started (rebuild)  0         0    -     -",
		"users (generation 1) failed at event 42 (user.updated, events.user.u1): boom",
		"jetflow projections skip users 42",
		"carts generation 1 (bucket rm_carts, consumer jetflow_projection_carts_g1) is retired but not removed yet; the runner of generation 2 removes it",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
