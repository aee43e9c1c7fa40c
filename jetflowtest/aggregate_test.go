package jetflowtest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
)

// funded is an account a1 opened by ada with 50 in it.
func funded(t testing.TB) *jetflowtest.Scenario[*Account] {
	return jetflowtest.Given(t, NewAccount,
		jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
		jetflowtest.Event(EventDeposited, Moved{Amount: 50}),
	)
}

func TestGivenWhenThen(t *testing.T) {
	t.Parallel()
	d := funded(t).
		When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 30})).
		Then(aggregates.Change{Type: EventWithdrawn, Data: Moved{Amount: 30}}).
		ThenState(func(t testing.TB, acc *Account) {
			if acc.Balance != 20 || acc.Owner != "ada" {
				t.Errorf("state after = %+v, want ada with 20", acc)
			}
		})
	inst := d.Instance()
	if inst.ID != "a1" || inst.Position != (streams.Position{Sequence: 3, Version: 3}) {
		t.Errorf("instance after = %q at %+v, want a1 at sequence 3, version 3", inst.ID, inst.Position)
	}
}

func TestThenComparesDataAsJSON(t *testing.T) {
	t.Parallel()
	withdraw := jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 30})
	for name, data := range map[string]any{
		"struct":      Moved{Amount: 30},
		"map":         map[string]any{"amount": 30},
		"float":       map[string]float64{"amount": 30.0},
		"raw message": json.RawMessage(`{ "amount" : 30 }`),
	} {
		t.Run(name, func(t *testing.T) {
			funded(t).When(withdraw).Then(aggregates.Change{Type: EventWithdrawn, Data: data, Schema: 1})
		})
	}
}

func TestGivenBuildsTheStoredHistory(t *testing.T) {
	t.Parallel()
	s := jetflowtest.Given(t, newRecorder,
		jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
		jetflowtest.Event(EventDeposited, Moved{Amount: 5}),
		jetflowtest.Event(EventDeposited, Moved{Amount: 7}),
	)
	inst := s.Instance()
	if inst.ID != "a1" || inst.Position != (streams.Position{Sequence: 3, Version: 3}) {
		t.Fatalf("instance = %q at %+v, want a1 at 3/3", inst.ID, inst.Position)
	}
	ids := map[string]bool{}
	for i, ev := range inst.State.events {
		n := uint64(i) + 1
		if ev.AggregateType != "account" || ev.AggregateID != "a1" || ev.Version != n || ev.Sequence != n || ev.Schema != 1 {
			t.Errorf("event %d = %s/%s version %d sequence %d schema %d, want account/a1 %d/%d schema 1", n, ev.AggregateType, ev.AggregateID, ev.Version, ev.Sequence, ev.Schema, n, n)
		}
		if !ev.OccurredAt.Equal(jetflowtest.EventTime(n)) || ev.ID == "" || ids[ev.ID] || ev.Metadata.Source != streams.DefaultSource {
			t.Errorf("event %d: id %q, occurred at %s, source %q", n, ev.ID, ev.OccurredAt, ev.Metadata.Source)
		}
		ids[ev.ID] = true
	}

	// Each When starts from the given history again.
	deposit := jetflowtest.Decide("deposit 1", func(inst *aggregates.Instance[*recorder]) ([]aggregates.Change, error) {
		return []aggregates.Change{{Type: EventDeposited, Data: Moved{Amount: 1}}}, nil
	})
	for range 2 {
		d := s.When(deposit)
		d.Then(aggregates.Change{Type: EventDeposited, Data: Moved{Amount: 1}})
		evs := d.Instance().State.events
		if len(evs) != 4 || evs[3].Version != 4 || evs[3].Sequence != 4 || evs[3].AggregateID != "a1" || evs[3].AggregateType != "account" {
			t.Fatalf("after When: %d events, last %+v", len(evs), evs[len(evs)-1])
		}
	}
}

// recorder is a state that keeps the events applied to it.
type recorder struct{ events []streams.Event }

func newRecorder() *recorder { return &recorder{} }

func (r *recorder) Apply(ev streams.Event) error {
	r.events = append(r.events, ev)
	return nil
}

func TestThenError(t *testing.T) {
	t.Parallel()
	t.Run("refused", func(t *testing.T) {
		funded(t).When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 80})).ThenError(aggregates.ErrRuleViolated)
	})
	t.Run("not found", func(t *testing.T) {
		jetflowtest.Given(t, NewAccount).
			When(jetflowtest.Command(depositSpec, Deposit{ID: "a9", Amount: 5})).
			ThenError(aggregates.ErrNotFound)
	})
	t.Run("validation by a domain error", func(t *testing.T) {
		funded(t).When(jetflowtest.Command(depositSpec, Deposit{ID: "a1", Amount: -5})).ThenError(aggregates.ErrValidation)
	})
	t.Run("validation by a plain error", func(t *testing.T) {
		d := jetflowtest.Given(t, NewAccount).When(jetflowtest.Command(openSpec, Open{ID: "a1"}))
		d.ThenError(aggregates.ErrValidation).ThenError(errOwnerRequired)
		if d.Err().Error() != "owner is required" {
			t.Errorf("error %q, want the command service's message", d.Err())
		}
	})
	t.Run("invalid id", func(t *testing.T) {
		jetflowtest.Given(t, NewAccount).
			When(jetflowtest.Command(depositSpec, Deposit{ID: "a.1", Amount: 5})).
			ThenError(aggregates.ErrValidation)
	})
}

func TestThenNothing(t *testing.T) {
	t.Parallel()
	closed := jetflowtest.Given(t, NewAccount,
		jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
		jetflowtest.Event(EventClosed, Closed{}),
	)
	closed.When(jetflowtest.Command(closeSpec, Close{ID: "a1"})).ThenNothing()
}

func TestWhenAssignsTheID(t *testing.T) {
	t.Parallel()
	d := jetflowtest.Given(t, NewAccount).When(jetflowtest.Command(openSpec, Open{Owner: "ada"}))
	d.Then(aggregates.Change{Type: EventOpened, Data: Opened{Owner: "ada"}})
	if id := d.Instance().ID; streams.ValidateAggregateID(id) != nil || len(id) != 36 {
		t.Errorf("assigned id %q, want a UUID", id)
	}
	d = jetflowtest.Given(t, NewAccount).WithID("acc-7").When(jetflowtest.Command(openSpec, Open{Owner: "ada"}))
	d.Then(aggregates.Change{Type: EventOpened, Data: Opened{Owner: "ada"}})
	if id := d.Instance().ID; id != "acc-7" {
		t.Errorf("assigned id %q, want acc-7", id)
	}
}

func TestDecisionWhenContinues(t *testing.T) {
	t.Parallel()
	jetflowtest.Given(t, NewAccount).
		When(jetflowtest.Command(openSpec, Open{ID: "a1", Owner: "ada"})).
		Then(aggregates.Change{Type: EventOpened, Data: Opened{Owner: "ada"}}).
		When(jetflowtest.Command(depositSpec, Deposit{ID: "a1", Amount: 40})).
		Then(aggregates.Change{Type: EventDeposited, Data: Moved{Amount: 40}}).
		When(jetflowtest.Command(closeSpec, Close{ID: "a1"})).
		Then(
			aggregates.Change{Type: EventWithdrawn, Data: Moved{Amount: 40}},
			aggregates.Change{Type: EventClosed, Data: Closed{}},
		).
		ThenState(func(t testing.TB, acc *Account) {
			if !acc.Closed || acc.Balance != 0 {
				t.Errorf("state %+v, want closed with 0", acc)
			}
		}).
		When(jetflowtest.Command(openSpec, Open{ID: "a1", Owner: "bob"})).
		ThenError(aggregates.ErrRuleViolated)
}

// The failure output must let a reader see what was expected and what
// happened without running the test again.

func TestThenFailurePrintsADiff(t *testing.T) {
	t.Parallel()
	f, completed := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(closeSpec, Close{ID: "a1"})).Then(
			aggregates.Change{Type: EventWithdrawn, Data: map[string]int{"amount": 30}},
		)
	})
	if !completed || !f.Failed() {
		t.Fatalf("Then on other events: completed %v, failed %v", completed, f.Failed())
	}
	mustContain(t, f.report(),
		`command close {"id":"a1"} on aggregate "a1" at version 2 decided other events than expected (expected 1, actual 2)`,
		"  event 1: differs\n"+
			`    expected: account.withdrawn {"amount":30}`+"\n"+
			`    actual:   account.withdrawn {"amount":50}`+"\n"+
			"      amount: expected 30, actual 50\n",
		"  event 2: unexpected\n"+
			`    actual:   account.closed {}`,
	)
	t.Log("the failure reads:\n" + f.report())
}

func TestThenFailureNamesMissingEventsAndTypes(t *testing.T) {
	t.Parallel()
	f, _ := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 10})).Then(
			aggregates.Change{Type: EventWithdrawn, Data: Moved{Amount: 10}, Schema: 2},
			aggregates.Change{Type: EventClosed, Data: Closed{}},
		)
	})
	mustContain(t, f.report(),
		"  event 1: differs\n"+
			`    expected: account.withdrawn (schema 2) {"amount":10}`+"\n"+
			`    actual:   account.withdrawn {"amount":10}`,
		"  event 2: missing\n"+
			`    expected: account.closed {}`,
	)
}

func TestThenFailureMatchingEventsAreShown(t *testing.T) {
	t.Parallel()
	f, _ := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(closeSpec, Close{ID: "a1"})).Then(
			aggregates.Change{Type: EventWithdrawn, Data: Moved{Amount: 50}},
			aggregates.Change{Type: EventDeposited, Data: Closed{}},
		)
	})
	mustContain(t, f.report(),
		`  event 1: as expected, account.withdrawn {"amount":50}`,
		"  event 2: differs\n"+
			`    expected: account.deposited {}`+"\n"+
			`    actual:   account.closed {}`,
	)
}

func TestThenOnAnErrorPrintsTheError(t *testing.T) {
	t.Parallel()
	f, _ := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 80})).
			Then(aggregates.Change{Type: EventWithdrawn, Data: Moved{Amount: 80}})
	})
	mustContain(t, f.report(),
		`expected 1 event:`+"\n"+`  event 1: account.withdrawn {"amount":80}`,
		`actual: error "balance 50 is less than 80" (*aggregates.DomainError, kind "rule violated")`,
	)
}

func TestThenErrorFailures(t *testing.T) {
	t.Parallel()
	f, completed := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 10})).ThenError(aggregates.ErrRuleViolated)
	})
	if !completed {
		t.Fatal("ThenError stopped the test: it should report with Errorf")
	}
	mustContain(t, f.report(),
		`expected: error matching "rule violated"`,
		"actual: no error, 1 event:\n"+`  event 1: account.withdrawn {"amount":10}`,
	)

	f, _ = runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 80})).ThenError(aggregates.ErrNotFound)
	})
	mustContain(t, f.report(),
		`expected: error matching "aggregate not found"`,
		`actual:   error "balance 50 is less than 80" (*aggregates.DomainError, kind "rule violated")`,
	)
}

func TestThenNothingFailure(t *testing.T) {
	t.Parallel()
	f, _ := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(closeSpec, Close{ID: "a1"})).ThenNothing()
	})
	mustContain(t, f.report(),
		"expected: no event and no error",
		"actual:   2 events:\n"+`  event 1: account.withdrawn {"amount":50}`+"\n"+`  event 2: account.closed {}`,
	)
}

func TestGivenStopsOnARefusedEvent(t *testing.T) {
	t.Parallel()
	f, completed := runFake(t, func(t testing.TB) {
		jetflowtest.Given(t, NewAccount,
			jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
			jetflowtest.Event("account.renamed", map[string]string{"owner": "bob"}),
		)
	})
	if completed {
		t.Fatal("Given went on after Apply refused an event")
	}
	mustContain(t, f.fatal,
		`given event 2 of 2, account.renamed (version 2, sequence 2, aggregate account/a1) {"owner":"bob"}: Apply refused it: account: unknown event type "account.renamed"`)
}

func TestGivenStopsOnMixedAggregates(t *testing.T) {
	t.Parallel()
	f, completed := runFake(t, func(t testing.TB) {
		jetflowtest.Given(t, NewAccount,
			jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
			jetflowtest.EventOf("account", "a2", EventDeposited, Moved{Amount: 1}),
		)
	})
	if completed {
		t.Fatal("Given took events of two aggregates")
	}
	mustContain(t, f.fatal, `given event 2 (account.deposited) is of aggregate "a2", the history is of "a1"`)
}

func TestWhenStopsOnACommandForAnotherAggregate(t *testing.T) {
	t.Parallel()
	f, completed := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a2", Amount: 1}))
	})
	if completed {
		t.Fatal("When ran a command for another aggregate")
	}
	mustContain(t, f.fatal, `command withdraw {"id":"a2","amount":1} targets aggregate "a2", but the given events are of aggregate "a1"`)
}

func TestThenStopsOnADecidedEventTheStateRefuses(t *testing.T) {
	t.Parallel()
	f, completed := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Decide("freeze", func(*aggregates.Instance[*Account]) ([]aggregates.Change, error) {
			return []aggregates.Change{{Type: "account.frozen", Data: struct{}{}}}, nil
		})).ThenState(func(testing.TB, *Account) {})
	})
	if completed {
		t.Fatal("ThenState went on after Apply refused a decided event")
	}
	mustContain(t, f.fatal, `decider freeze on aggregate "a1" at version 2: decided event 1 of 1, account.frozen (version 3, sequence 3, aggregate account/a1) {}: Apply refused it`)
}

func TestWhenReportsADecideThatChangesTheState(t *testing.T) {
	t.Parallel()
	f, _ := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Decide("sloppy", func(inst *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
			inst.State.Balance = 0
			return nil, nil
		}))
	})
	mustContain(t, f.report(), "Decide changed the state", `before: {"balance":50,"closed":false,"owner":"ada"}`, `after:  {"balance":0,"closed":false,"owner":"ada"}`)
}

func TestMisuseIsReported(t *testing.T) {
	t.Parallel()
	f, completed := runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(aggregates.CommandSpec[*Account, Close]{Name: "close"}, Close{ID: "a1"}))
	})
	if completed || !strings.Contains(f.fatal, "needs AggregateID and Decide") {
		t.Errorf("a spec without Decide: completed %v, report %q", completed, f.fatal)
	}
	f, completed = runFake(t, func(t testing.TB) {
		funded(t).When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 80})).ThenError(nil)
	})
	if completed || !strings.Contains(f.fatal, "ThenError needs the error") {
		t.Errorf("ThenError(nil): completed %v, report %q", completed, f.fatal)
	}
}

func TestEventPanicsOnDataThatIsNotJSON(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "account.odd") {
			t.Errorf("recovered %v, want a panic naming the event", r)
		}
	}()
	jetflowtest.Event("account.odd", func() {})
	t.Error("no panic")
}
