package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/config"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/internal/observability"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// TestProjectionsCommands: status, skip, resume and rebuild against a
// running users projection, as an operator would use them.
func TestProjectionsCommands(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc, js := srv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := config.Default()
	scfg := streamsConfig(cfg)
	if err := streams.Provision(ctx, js, scfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, scfg)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for _, id := range []string{"ann", "bea", "cid"} {
		data, _ := json.Marshal(users.Created{ID: id, Username: id + "_x", Email: id + "@example.com"})
		res, err := store.Append(ctx, users.AggregateType, id, streams.Position{}, streams.Event{Type: users.EventCreated, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		last = res.LastSequence
	}
	runner, err := projections.NewRunner(nc, projectionsConfig(cfg, nil), readModels(cfg)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = runner.Stop(context.Background()) }()
	for s, _ := runner.Status("users"); s.LastApplied < last; s, _ = runner.Status("users") {
		time.Sleep(5 * time.Millisecond)
	}

	run := func(args ...string) (string, string, error) {
		cmd := newProjectionsCmd()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append(args, "--nats-url", srv.URL))
		err := cmd.ExecuteContext(ctx)
		return out.String(), errOut.String(), err
	}
	out, _, err := run("status")
	if err != nil || !strings.Contains(out, "users") || !strings.Contains(out, "rm_users") || !strings.Contains(out, "running") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	// The operator's typo of issue 16: a skip of bea's event, which the
	// projection is not failed at, is refused and drops nothing.
	out, _, err = run("skip", "users", "2")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("users is not failed (running at %d)", last)) ||
		!strings.Contains(err.Error(), "nothing was changed") || strings.Contains(out, "will be skipped") {
		t.Fatalf("skip of an event the projection is not failed at: %v\n%s", err, out)
	}
	if out, _, err = run("resume", "users"); err != nil || !strings.Contains(out, "resume requested") {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if _, _, err = run("resume", "nobody"); err == nil || !strings.Contains(err.Error(), "unknown projection") {
		t.Fatalf("resume of an unknown projection: %v", err)
	}
	out, errOut, err := run("rebuild", "users", "--no-progress")
	if err != nil || !strings.Contains(out, "generation 2 active, bucket rm_users_g2") || !strings.Contains(errOut, "building users generation 2") {
		t.Fatalf("rebuild: %v\n%s%s", err, out, errOut)
	}
	if out, _, err = run("status", "users", "--json"); err != nil {
		t.Fatal(err)
	}
	var rep projections.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Active.Number != 2 || rep.Active.AckFloor != last {
		t.Fatalf("status --json after rebuild: %v %+v", err, rep.Active)
	}
	rm, err := js.KeyValue(ctx, "rm_users_g2")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ann", "bea", "cid"} {
		if _, err := rm.Get(ctx, projections.Key(id)); err != nil {
			t.Errorf("%s after the rebuild: %v", id, err)
		}
	}
	if _, _, err = run("rebuild", "orders"); err == nil || !strings.Contains(err.Error(), `unknown projection "orders"`) {
		t.Fatalf("rebuild of an unknown projection: %v", err)
	}
}

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

// TestReadSideAndQueryCommand: serve's read side answers `jetflow query`,
// and its readiness check passes.
func TestReadSideAndQueryCommand(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	nc, js := srv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := config.Default()
	if err := streams.Provision(ctx, js, streamsConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, streamsConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(users.Created{ID: "dee", Username: "dee_x", Email: "dee@example.com"})
	res, err := store.Append(ctx, users.AggregateType, "dee", streams.Position{}, streams.Event{Type: users.EventCreated, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := startReadSide(ctx, nc, cfg, slog.New(slog.DiscardHandler), observability.NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.stop(context.Background()) }()
	query := func(args ...string) (string, string, error) {
		cmd := newQueryCmd()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append(args, "--nats-url", srv.URL))
		err := cmd.ExecuteContext(ctx)
		return out.String(), errOut.String(), err
	}
	out, _, err := query("users.get", fmt.Sprintf(`{"id":"dee","min_sequence":%d}`, res.LastSequence))
	if err != nil || !strings.Contains(out, `"username":"dee_x"`) {
		t.Fatalf("query users.get: %v %s", err, out)
	}
	if out, _, err = query("users.list"); err != nil || !strings.Contains(out, `"total":1`) {
		t.Fatalf("query users.list: %v %s", err, out)
	}
	if _, errOut, err := query("users.list", `{"status":"gone"}`); err == nil || !strings.Contains(errOut, `error 400 validation: status "gone"`) {
		t.Fatalf("bad query: %v %s", err, errOut)
	}
	if err := rs.ready(10)(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}
}
