package jetflowtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

func TestGivenEventsThenRecord(t *testing.T) {
	t.Parallel()
	m := jetflowtest.GivenEvents(t, summaries,
		jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
		jetflowtest.EventOf("account", "b@2", EventOpened, Opened{Owner: "bob"}),
		jetflowtest.EventOf("account", "a1", EventDeposited, Moved{Amount: 50}),
		jetflowtest.EventOf("account", "b@2", EventDeposited, Moved{Amount: 7}),
		jetflowtest.EventOf("account", "a1", EventWithdrawn, Moved{Amount: 20}),
	)
	// Version per aggregate, occurred-at time from the stream sequence.
	m.ThenRecord("a1", Summary{Owner: "ada", Balance: 30, Version: 3, UpdatedAt: jetflowtest.EventTime(5)})
	// A map, or JSON text, compares by content; an id Key encodes is found.
	m.ThenRecord("b@2", map[string]any{"owner": "bob", "balance": 7, "version": 2, "updated_at": "2026-01-01T00:00:04Z"})
	m.ThenRecord(projections.Key("b@2"), []byte(`{"updated_at":"2026-01-01T00:00:04Z","version":2,"balance":7,"owner":"bob"}`))
	m.ThenNoRecord("c3")

	m.When(jetflowtest.EventOf("account", "a1", EventClosed, Closed{})).ThenNoRecord("a1")
	if keys := m.Keys(); len(keys) != 1 || keys[0] != projections.Key("b@2") {
		t.Errorf("keys %q, want only b@2's", keys)
	}
	evs := m.Events()
	if len(evs) != 6 || evs[5].Sequence != 6 || evs[5].Version != 4 || evs[3].Version != 2 {
		t.Errorf("events: %d, last at sequence %d version %d", len(evs), evs[len(evs)-1].Sequence, evs[len(evs)-1].Version)
	}
	if rec, ok := m.Record("b@2"); !ok || !json.Valid(rec) {
		t.Errorf("Record(b@2) = %s, %v", rec, ok)
	}
}

func TestGivenEventsKeepsWhatTheTestSet(t *testing.T) {
	t.Parallel()
	ev := jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"})
	ev.Sequence, ev.Version = 40, 9
	m := jetflowtest.GivenEvents(t, summaries, ev, jetflowtest.EventOf("account", "a1", EventDeposited, Moved{Amount: 1}))
	m.ThenRecord("a1", Summary{Owner: "ada", Balance: 1, Version: 10, UpdatedAt: jetflowtest.EventTime(41)})
}

func TestThenRecordFailurePrintsBothRecords(t *testing.T) {
	t.Parallel()
	f, completed := runFake(t, func(t testing.TB) {
		jetflowtest.GivenEvents(t, summaries,
			jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
			jetflowtest.EventOf("account", "a1", EventDeposited, Moved{Amount: 50}),
		).ThenRecord("a1", map[string]any{"owner": "ada", "balance": 40, "version": 2})
	})
	if !completed {
		t.Fatal("ThenRecord stopped the test: it should report with Errorf")
	}
	mustContain(t, f.report(),
		`after 2 events: record "a1" differs`,
		`  expected: {"balance":40,"owner":"ada","version":2}`,
		`  actual:   {"balance":50,"owner":"ada","updated_at":"2026-01-01T00:00:02Z","version":2}`,
		"    balance: expected 40, actual 50",
		`    updated_at: unexpected "2026-01-01T00:00:02Z"`,
	)
	t.Log("the failure reads:\n" + f.report())
}

func TestThenRecordFailureListsTheRecords(t *testing.T) {
	t.Parallel()
	f, _ := runFake(t, func(t testing.TB) {
		jetflowtest.GivenEvents(t, summaries,
			jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
			jetflowtest.EventOf("account", "a2", EventOpened, Opened{Owner: "bob"}),
		).ThenRecord("a3", Summary{Owner: "cy"}).ThenNoRecord("a2")
	})
	mustContain(t, f.report(),
		`after 2 events: no record "a3"`,
		`records:  "a1", "a2"`,
		`after 2 events: record "a2" exists, expected none`,
		`actual: {"balance":0,"owner":"bob","updated_at":"2026-01-01T00:00:02Z","version":1}`,
	)
}

func TestGivenEventsStopsOnAFailingHandler(t *testing.T) {
	t.Parallel()
	failing := projections.JSONHandler[Summary]{
		KeyOf: func(ev streams.Event) (string, error) { return ev.AggregateID, nil },
		Evolve: func(_ context.Context, ev streams.Event, s *Summary) (*Summary, error) {
			if ev.Type == EventWithdrawn {
				return nil, errors.New("withdrawals are not summarized")
			}
			return &Summary{}, nil
		},
	}
	f, completed := runFake(t, func(t testing.TB) {
		jetflowtest.GivenEvents(t, failing,
			jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
			jetflowtest.EventOf("account", "a1", EventWithdrawn, Moved{Amount: 5}),
		)
	})
	if completed {
		t.Fatal("GivenEvents went on after Apply failed")
	}
	mustContain(t, f.fatal, `event 2, account.withdrawn (version 2, sequence 2, aggregate account/a1) {"amount":5}: Apply to record "a1" failed: `, "withdrawals are not summarized")
}

func TestGivenEventsStopsOnAKeyTheRunnerRefuses(t *testing.T) {
	t.Parallel()
	raw := projections.JSONHandler[Summary]{
		KeyOf: func(ev streams.Event) (string, error) { return ev.AggregateID, nil },
		Evolve: func(context.Context, streams.Event, *Summary) (*Summary, error) {
			return &Summary{}, nil
		},
	}
	f, completed := runFake(t, func(t testing.TB) {
		jetflowtest.GivenEvents(t, raw, jetflowtest.EventOf("account", "ada@example.com", EventOpened, Opened{Owner: "ada"}))
	})
	if completed {
		t.Fatal("GivenEvents took a key the runner refuses")
	}
	mustContain(t, f.fatal, `Key returned "ada@example.com", which the projection runner refuses`, "projections.Key")
}

func TestGivenEventsStopsOnSequencesOutOfOrder(t *testing.T) {
	t.Parallel()
	late := jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"})
	late.Sequence = 1
	f, completed := runFake(t, func(t testing.TB) {
		jetflowtest.GivenEvents(t, summaries, jetflowtest.EventOf("account", "a2", EventOpened, Opened{Owner: "bob"}), late)
	})
	if completed {
		t.Fatal("GivenEvents took events out of stream order")
	}
	mustContain(t, f.fatal, "event 2 (account.opened) has sequence 1, not after the previous event's 1")
}
