package jetflowtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// The examples use the account domain of domain_test.go: an Account state
// evolved by account.opened, account.deposited and account.withdrawn, and
// the commands open, deposit, withdraw and close.

// A command test: given the account's history, when a withdrawal comes,
// then it decides account.withdrawn, and the balance after it is 20.
func ExampleGiven() {
	t := newExampleT() // in a test: func TestWithdraw(t *testing.T)
	defer t.done()

	withdraw := aggregates.CommandSpec[*Account, Withdraw]{
		Name:        "withdraw",
		AggregateID: func(c *Withdraw) string { return c.ID },
		Decide: func(c Withdraw, acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
			if c.Amount > acc.State.Balance {
				return nil, aggregates.Refused("balance %d is less than %d", acc.State.Balance, c.Amount)
			}
			return []aggregates.Change{{Type: EventWithdrawn, Data: Moved{Amount: c.Amount}}}, nil
		},
	}
	jetflowtest.Given(t, NewAccount,
		jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
		jetflowtest.Event(EventDeposited, Moved{Amount: 50}),
	).
		When(jetflowtest.Command(withdraw, Withdraw{ID: "a1", Amount: 30})).
		Then(aggregates.Change{Type: EventWithdrawn, Data: map[string]int{"amount": 30}}).
		ThenState(func(t testing.TB, acc *Account) {
			fmt.Println("balance", acc.Balance)
		})
	// Output:
	// balance 20
}

// A refused command: errors.Is matches the error's kind (or the domain's
// own sentinel).
func ExampleDecision_ThenError() {
	t := newExampleT()
	defer t.done()

	d := jetflowtest.Given(t, NewAccount,
		jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
		jetflowtest.Event(EventDeposited, Moved{Amount: 50}),
	).
		When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 80})).
		ThenError(aggregates.ErrRuleViolated)
	fmt.Println(d.Err())
	// Output:
	// balance 50 is less than 80
}

// What a failing Then reports: each event expected and decided, and the
// fields that differ.
func ExampleDecision_Then_failure() {
	t := newExampleT()
	defer t.done()

	jetflowtest.Given(t, NewAccount,
		jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
		jetflowtest.Event(EventDeposited, Moved{Amount: 50}),
	).
		When(jetflowtest.Command(closeSpec, Close{ID: "a1"})).
		Then(aggregates.Change{Type: EventWithdrawn, Data: Moved{Amount: 30}})
	// Output:
	// FAIL: jetflowtest: command close {"id":"a1"} on aggregate "a1" at version 2 decided other events than expected (expected 1, actual 2):
	//   event 1: differs
	//     expected: account.withdrawn {"amount":30}
	//     actual:   account.withdrawn {"amount":50}
	//       amount: expected 30, actual 50
	//   event 2: unexpected
	//     actual:   account.closed {}
}

// A projection test: given these events, then this record. summaries is a
// projections.JSONHandler[Summary] keeping one record per open account.
func ExampleGivenEvents() {
	t := newExampleT() // in a test: func TestSummaries(t *testing.T)
	defer t.done()

	m := jetflowtest.GivenEvents(t, summaries,
		jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
		jetflowtest.EventOf("account", "a2", EventOpened, Opened{Owner: "bob"}),
		jetflowtest.EventOf("account", "a1", EventDeposited, Moved{Amount: 50}),
	)
	m.ThenRecord("a1", Summary{Owner: "ada", Balance: 50, Version: 2, UpdatedAt: jetflowtest.EventTime(3)})
	m.When(jetflowtest.EventOf("account", "a2", EventClosed, Closed{})).ThenNoRecord("a2")

	rec, _ := m.Record("a1")
	fmt.Println(string(rec))
	// Output:
	// {"owner":"ada","balance":50,"version":2,"updated_at":"2026-01-01T00:00:03Z"}
}

// What a failing ThenRecord reports.
func ExampleReadModel_ThenRecord_failure() {
	t := newExampleT()
	defer t.done()

	jetflowtest.GivenEvents(t, summaries,
		jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
		jetflowtest.EventOf("account", "a1", EventDeposited, Moved{Amount: 50}),
	).ThenRecord("a1", map[string]any{"owner": "ada", "balance": 40, "version": 2, "updated_at": jetflowtest.EventTime(2)})
	// Output:
	// FAIL: jetflowtest: after 2 events: record "a1" differs
	//   expected: {"balance":40,"owner":"ada","updated_at":"2026-01-01T00:00:02Z","version":2}
	//   actual:   {"balance":50,"owner":"ada","updated_at":"2026-01-01T00:00:02Z","version":2}
	//     balance: expected 40, actual 50
}

// A test against a real JetStream server: jetflow's event store on it.
func ExampleRunServer() {
	t := newExampleT() // in a test: func TestStore(t *testing.T)
	defer t.done()

	srv := jetflowtest.RunServer(t)
	_, js := srv.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatalf("provision: %v", err)
	}
	store, err := streams.NewStore(js, cfg)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	res, err := store.Append(ctx, "account", "a1", streams.Position{},
		jetflowtest.Event(EventOpened, Opened{Owner: "ada"}),
		jetflowtest.Event(EventDeposited, Moved{Amount: 50}),
	)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	fmt.Println("version", res.Version, "sequence", res.LastSequence)
	// Output:
	// version 2 sequence 1
}

// A server where there is no test: in an Example, a small program or a
// main that demos a domain. Close stops it and removes its temporary
// store dir.
func ExampleStartServer() {
	srv, err := jetflowtest.StartServer()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	cfg := streams.DefaultConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		fmt.Println(err)
		return
	}
	store, err := streams.NewStore(js, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := store.Append(ctx, "account", "a1", streams.Position{},
		streams.Event{Type: "account.opened", Data: json.RawMessage(`{"owner":"ada"}`)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("version", res.Version, "sequence", res.LastSequence)
	// Output:
	// version 1 sequence 1
}

// A whole app in a test, as `jetflow serve` runs it: accountApp registers
// the account commands and the read model "accounts" with its query
// accounts.get (see domain_test.go). Send and Query go over NATS as any
// client's requests do.
func ExampleRunApp() {
	t := newExampleT() // in a test: func TestAccounts(t *testing.T)
	defer t.done()

	app := jetflowtest.RunApp(t, accountApp())
	app.MustSend("account.open", Open{ID: "a1", Owner: "ada"})
	deposited := app.MustSend("account.deposit", Deposit{ID: "a1", Amount: 50})
	fmt.Println("deposited: version", deposited.Version, "sequence", deposited.Sequence)

	// A refusal is a *wire.Error, matched with errors.Is.
	_, err := app.Send("account.withdraw", Withdraw{ID: "a1", Amount: 80})
	fmt.Println(errors.Is(err, wire.ErrConflict), err)

	// The projection has applied every event stored so far: its records
	// are in its bucket.
	rep := app.WaitCaughtUp("accounts")
	fmt.Println("accounts applied up to sequence", rep.Active.AckFloor)

	// A query reads its own write: min_sequence waits until the read
	// model has applied the deposit.
	var s Summary
	if err := app.Query("accounts.get", GetAccount{ID: "a1", MinSequence: deposited.Sequence}, &s); err != nil {
		t.Fatalf("query: %v", err)
	}
	fmt.Println(s.Owner, s.Balance)
	// Output:
	// deposited: version 2 sequence 2
	// true 409 conflict: balance 50 is less than 80
	// accounts applied up to sequence 2
	// ada 50
}

// A cluster for the few tests that need one (R3 streams, a node going
// away). Starting it takes seconds.
func ExampleRunCluster() {
	testR3 := func(t *testing.T) {
		if testing.Short() {
			t.Skip("cluster test")
		}
		c := jetflowtest.RunCluster(t)
		_, js := c.JetStream(t)
		cfg := streams.DefaultConfig()
		cfg.Replicas = 3
		if err := streams.Provision(t.Context(), js, cfg); err != nil {
			t.Fatal(err)
		}
	}
	_ = testR3
}

// exampleT stands in for the *testing.T an example does not have: it
// prints what a fixture reports, stops at a Fatal and runs the cleanups
// when done.
type exampleT struct {
	testing.TB
	cleanups []func()
}

// stopExample ends an example at a Fatal.
type stopExample struct{}

func newExampleT() *exampleT { return &exampleT{} }

func (t *exampleT) Helper()                           {}
func (t *exampleT) Context() context.Context          { return context.Background() }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Errorf(format string, args ...any) { fmt.Printf("FAIL: "+format+"\n", args...) }

func (t *exampleT) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	panic(stopExample{})
}

func (t *exampleT) TempDir() string {
	dir, err := os.MkdirTemp("", "jetflowtest-example-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// done runs the cleanups, last registered first; deferred by each example.
func (t *exampleT) done() {
	r := recover()
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	if _, stop := r.(stopExample); r != nil && !stop {
		panic(r)
	}
}
