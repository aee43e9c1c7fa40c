package jetflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/internal/bench"
)

// runBench runs `jetflow bench args...` on app's command line.
func runBench(app *jetflow.App, args ...string) (string, error) {
	cmd := app.Command()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"bench"}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// Every bench scenario runs end to end on a small size and reports both
// rates, driving the users example as the jetflow binary registers it: a
// scenario that breaks is caught here, not by the next person who needs
// its figures.
func TestEveryBenchScenarioRunsOnTheUsersExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario; skipped with -short")
	}
	t.Parallel()
	app := jetflow.New()
	users.Register(app)
	out, err := runBench(app, "--json", "--duration", "400ms", "--count", "400")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
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

// usersParts registers the users aggregate and read model, and a tickets
// projection without queries, but no bench workload.
func usersParts() *jetflow.App {
	app := jetflow.New()
	jetflow.Aggregate(app, users.AggregateType, users.NewUser, users.RegisterCommands)
	jetflow.ReadModel(app, users.ReadModel, users.Projection, users.NewDirectory, users.RegisterQueries)
	app.Projection("tickets", ticketProjection)
	return app
}

// usersWorkload drives usersParts: users created, then renamed; seeded
// users created, then changing email.
func usersWorkload() jetflow.BenchWorkload {
	return jetflow.BenchWorkload{
		Aggregate: users.AggregateType,
		Create: func(i int) (string, []byte) {
			return users.CommandCreate, fmt.Appendf(nil, `{"username":"u_%d","email":"u%d@example.com"}`, i, i)
		},
		Update: func(id string, i int) (string, []byte) {
			return users.CommandUpdate, fmt.Appendf(nil, `{"id":%q,"username":"v_%d"}`, id, i)
		},
		ReadModel: users.ReadModel,
		Seed: func(u, n int) (string, string, any) {
			id := fmt.Sprintf("seed-%d", u)
			if n == 0 {
				return id, users.EventCreated, users.Created{ID: id, Username: "s_" + id, Email: id + "@example.com"}
			}
			email := fmt.Sprintf("%s-%d@example.org", id, n)
			return id, users.EventUpdated, users.Updated{Email: &email}
		},
		Get: func(id string, minSequence uint64) (string, []byte) {
			return users.QueryGet, fmt.Appendf(nil, `{"id":%q,"min_sequence":%d}`, id, minSequence)
		},
		List: func(page, _ int) (string, []byte) {
			return users.QueryList, fmt.Appendf(nil, `{"page":%d,"per_page":20}`, page)
		},
	}
}

// A workload that names what is not registered, or lacks a function, is
// refused before anything starts, naming what is wrong.
func TestBenchWorkloadIsValidated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*jetflow.BenchWorkload)
		want   []string
	}{
		{"no aggregate", func(w *jetflow.BenchWorkload) { w.Aggregate = "" }, []string{"names no aggregate"}},
		{"unknown aggregate", func(w *jetflow.BenchWorkload) { w.Aggregate = "order" },
			[]string{`aggregate "order" is not registered`, "[user]"}},
		{"no create", func(w *jetflow.BenchWorkload) { w.Create = nil }, []string{"Create and Update are required"}},
		{"no update", func(w *jetflow.BenchWorkload) { w.Update = nil }, []string{"Create and Update are required"}},
		{"unknown read model", func(w *jetflow.BenchWorkload) { w.ReadModel = "orders" },
			[]string{`read model "orders" is not registered`, "[users tickets]"}},
		{"read model without queries", func(w *jetflow.BenchWorkload) { w.ReadModel = "tickets" },
			[]string{`read model "tickets" answers no queries`}},
		{"no seed", func(w *jetflow.BenchWorkload) { w.Seed = nil }, []string{`read model "users" needs Seed, Get and List`}},
		{"no get", func(w *jetflow.BenchWorkload) { w.Get = nil }, []string{`read model "users" needs Seed, Get and List`}},
		{"no list", func(w *jetflow.BenchWorkload) { w.List = nil }, []string{`read model "users" needs Seed, Get and List`}},
		{"queries without a read model", func(w *jetflow.BenchWorkload) { w.ReadModel = "" },
			[]string{"Seed, Get and List drive a read model, and ReadModel names none"}},
		{"everything wrong at once", func(w *jetflow.BenchWorkload) { *w = jetflow.BenchWorkload{Aggregate: "order", ReadModel: "orders"} },
			[]string{`aggregate "order"`, "Create and Update", `read model "orders" is not registered`, "needs Seed, Get and List"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := usersParts()
			w := usersWorkload()
			tc.change(&w)
			app.Bench(w)
			err := app.Run(context.Background(), jetflow.WithConfigFile(""))
			if !errors.Is(err, jetflow.ErrInvalidRegistration) {
				t.Fatalf("Run = %v, want ErrInvalidRegistration", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			if _, err := runBench(app, "--scenario", "append"); !errors.Is(err, jetflow.ErrInvalidRegistration) {
				t.Errorf("bench = %v, want ErrInvalidRegistration", err)
			}
		})
	}
	t.Run("registered twice", func(t *testing.T) {
		t.Parallel()
		app := jetflow.New()
		users.Register(app)
		app.Bench(usersWorkload())
		err := app.Run(context.Background(), jetflow.WithConfigFile(""))
		if !errors.Is(err, jetflow.ErrInvalidRegistration) || !strings.Contains(err.Error(), "bench workload registered twice") {
			t.Fatalf("Run = %v, want ErrInvalidRegistration naming the second workload", err)
		}
	})
}

// Without a workload, or without a read model in it, the scenarios that
// need them say what to register.
func TestBenchScenariosNeedingADomainSayWhatIsMissing(t *testing.T) {
	t.Parallel()
	noReads := usersWorkload()
	noReads.ReadModel, noReads.Seed, noReads.Get, noReads.List = "", nil, nil, nil
	withoutReads := usersParts()
	withoutReads.Bench(noReads)
	for _, tc := range []struct {
		name     string
		app      *jetflow.App
		scenario string
		is       error
		want     string
	}{
		{"no workload, command", jetflow.New(), "command", bench.ErrNoDomain, "register a workload with App.Bench"},
		{"no workload, load-snapshot", jetflow.New(), "load-snapshot", bench.ErrNoDomain, "register a workload with App.Bench"},
		{"no workload, query", jetflow.New(), "query", bench.ErrNoReadDomain, "BenchWorkload.ReadModel"},
		{"no read model, projection", withoutReads, "projection", bench.ErrNoReadDomain, "BenchWorkload.ReadModel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := runBench(tc.app, "--scenario", tc.scenario)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("bench --scenario %s = %v, want %v saying %q\n%s", tc.scenario, err, tc.is, tc.want, out)
			}
		})
	}
}

// Asked for every scenario, the bench runs those the workload allows and
// says which it leaves out.
func TestBenchRunsWhatTheWorkloadAllows(t *testing.T) {
	t.Parallel()
	domainless := []string{"append", "append-concurrent", "append-batch", "append-batch-concurrent", "load", "command-multi", "publish", "worker", "process"}
	noReads := usersWorkload()
	noReads.ReadModel, noReads.Seed, noReads.Get, noReads.List = "", nil, nil, nil
	withoutReads := usersParts()
	withoutReads.Bench(noReads)
	for _, tc := range []struct {
		name string
		app  *jetflow.App
		note string
		want []string
	}{
		{"no workload", jetflow.New(), "# no bench workload in this binary (App.Bench): the command, load-snapshot, projection and query scenarios are left out",
			domainless},
		{"no read model", withoutReads, "# the bench workload names no read model: the projection and query scenarios are left out",
			[]string{"append", "append-concurrent", "append-batch", "append-batch-concurrent", "load", "command", "command-multi", "load-snapshot", "publish", "worker", "process"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := runBench(tc.app, "--duration", "20ms", "--count", "50")
			if err != nil {
				t.Fatalf("bench: %v\n%s", err, out)
			}
			if !strings.Contains(out, "\n"+tc.note) {
				t.Errorf("output does not say %q:\n%s", tc.note, out)
			}
			var ran []string
			for _, line := range strings.Split(out, "\n") {
				if line != "" && line[0] != '#' && line[0] != ' ' {
					ran = append(ran, strings.Fields(line)[0])
				}
			}
			if !slices.Equal(ran, tc.want) {
				t.Errorf("ran %v, want %v\n%s", ran, tc.want, out)
			}
		})
	}
}

// The bench serves the registered aggregate's commands and read model as
// serve does, driven by a workload of this test's own (not the one
// users.Register gives); the raw side reads the records by the keys the
// projection's handler gives them, and a wrong key would fail its gets.
func TestBenchDrivesTheRegisteredDomain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command and query scenarios; skipped with -short")
	}
	t.Parallel()
	app := usersParts()
	app.Bench(usersWorkload())
	out, err := runBench(app, "--json", "--scenario", "load-snapshot,query", "--duration", "100ms", "--count", "120")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	got := map[string]bench.Result{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r bench.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not a JSON result: %q", line)
		}
		got[r.Scenario] = r
	}
	if r := got["load-snapshot"]; r.Rate <= 0 || r.RawRate <= 0 {
		t.Errorf("load-snapshot: %+v", r)
	}
	if r := got["query"]; r.Rate <= 0 || r.RawRate <= 0 || !hasMetric(r, "records", 120) {
		t.Errorf("query: %+v", r)
	}
}

func hasMetric(r bench.Result, name string, value float64) bool {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value == value
		}
	}
	return false
}

// A seeded event whose data does not encode stops the scenario with an
// error naming it.
func TestBenchReportsASeedThatDoesNotEncode(t *testing.T) {
	t.Parallel()
	app := usersParts()
	w := usersWorkload()
	w.Seed = func(u, _ int) (string, string, any) { return fmt.Sprint("s", u), users.EventCreated, make(chan int) }
	app.Bench(w)
	out, err := runBench(app, "--scenario", "query", "--count", "10", "--duration", "10ms")
	// Entities are seeded in a shuffled order: which one fails first varies.
	if err == nil || !strings.Contains(err.Error(), "bench workload: Seed(") || !strings.Contains(err.Error(), ", 0) user.created: json: unsupported type") {
		t.Fatalf("bench = %v, want an error naming the Seed call and its event\n%s", err, out)
	}
}
