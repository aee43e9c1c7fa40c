package jetflowtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/streams"
)

var errBroken = errors.New("cannot handle a broken invoice")

type reminder struct {
	Sent  int  `json:"sent"`
	Acked bool `json:"acked"`
}

type remind struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

// reminders: invoice.issued sends a reminder every day until
// invoice.acknowledged; the third reminder escalates and ends.
func reminders() processes.Definition[reminder] {
	return processes.Definition[reminder]{
		Name: "reminders",
		On: []processes.On[reminder]{
			{Event: "invoice.issued", Start: true, Handle: func(_ context.Context, p processes.Instance[reminder], _ streams.Event) (processes.Step[reminder], error) {
				return processes.Step[reminder]{Deadlines: []processes.Deadline{{Name: "remind", After: 24 * time.Hour}}}, nil
			}},
			{Event: "invoice.acknowledged", Handle: func(_ context.Context, p processes.Instance[reminder], _ streams.Event) (processes.Step[reminder], error) {
				return processes.Step[reminder]{State: reminder{Sent: p.State.Sent, Acked: true}, Cancel: []string{"remind"}, End: true}, nil
			}},
			{Event: "invoice.broken", Handle: func(context.Context, processes.Instance[reminder], streams.Event) (processes.Step[reminder], error) {
				return processes.Step[reminder]{}, errBroken
			}},
		},
		Deadlines: map[string]processes.DeadlineHandler[reminder]{
			"remind": func(_ context.Context, p processes.Instance[reminder], _ processes.Fired) (processes.Step[reminder], error) {
				s := p.State
				s.Sent++
				if s.Sent == 3 {
					return processes.Step[reminder]{State: s, Commands: []processes.Command{{Name: "invoice.escalate", Body: remind{ID: p.ID, N: s.Sent}}}, End: true}, nil
				}
				return processes.Step[reminder]{
					State:     s,
					Commands:  []processes.Command{{Name: "invoice.remind", Body: remind{ID: p.ID, N: s.Sent}}},
					Deadlines: []processes.Deadline{{Name: "remind", After: 24 * time.Hour}},
				}, nil
			},
		},
	}
}

func TestProcessFixtureAdvancesTheClock(t *testing.T) {
	t.Parallel()
	p := jetflowtest.GivenProcess(t, reminders(),
		jetflowtest.EventOf("invoice", "i-1", "invoice.issued", nil),
	).
		ThenDeadlineIn("i-1", "remind", 24*time.Hour)
	p.Advance(12 * time.Hour).ThenNoCommands()
	p.When(jetflowtest.EventOf("invoice", "i-2", "invoice.issued", nil)).
		ThenNoCommands().
		ThenDeadlines("i-2", "remind").
		ThenDeadlineIn("i-2", "remind", 24*time.Hour)
	p.Advance(12*time.Hour).
		ThenCommands(processes.Command{Name: "invoice.remind", Body: remind{ID: "i-1", N: 1}}).
		ThenDeadlineIn("i-1", "remind", 24*time.Hour)
	if !p.Now().Equal(jetflowtest.ProcessStart.Add(24 * time.Hour)) {
		t.Errorf("clock at %s", p.Now())
	}
	// Two days at once: each deadline fires at its own time, in order.
	p.Advance(48*time.Hour).
		ThenCommands(
			processes.Command{Name: "invoice.remind", Body: remind{ID: "i-2", N: 1}},
			processes.Command{Name: "invoice.remind", Body: remind{ID: "i-1", N: 2}},
			processes.Command{Name: "invoice.remind", Body: remind{ID: "i-2", N: 2}},
			processes.Command{Name: "invoice.escalate", Body: remind{ID: "i-1", N: 3}},
		).
		ThenEnded("i-1").
		ThenRunning("i-2").
		ThenDeadlineIn("i-2", "remind", 12*time.Hour)
	p.When(jetflowtest.EventOf("invoice", "i-2", "invoice.acknowledged", nil)).
		ThenNoCommands().
		ThenEnded("i-2").
		ThenDeadlines("i-2").
		ThenState("i-2", func(t testing.TB, s reminder) {
			if !s.Acked || s.Sent != 2 {
				t.Errorf("state %+v", s)
			}
		})
	p.Advance(72 * time.Hour).ThenNoCommands()
	p.When(jetflowtest.EventOf("invoice", "i-1", "invoice.acknowledged", nil)).ThenSkipped(processes.ReasonEnded)
	p.When(jetflowtest.EventOf("invoice", "i-9", "invoice.acknowledged", nil)).ThenSkipped(processes.ReasonNotStarted).ThenNoInstance("i-9")
	p.When(jetflowtest.EventOf("invoice", "i-3", "invoice.issued", nil), jetflowtest.EventOf("invoice", "i-3", "invoice.broken", nil)).
		ThenError(errBroken).
		ThenRunning("i-3")
}

func TestProcessFixtureReportsDifferences(t *testing.T) {
	t.Parallel()
	f, _ := runFake(t, func(ft testing.TB) {
		p := jetflowtest.GivenProcess(ft, reminders(), jetflowtest.EventOf("invoice", "i-1", "invoice.issued", nil))
		p.Advance(24*time.Hour).
			ThenCommands(processes.Command{Name: "invoice.remind", Body: remind{ID: "i-1", N: 7}}).
			ThenDeadlineIn("i-1", "remind", time.Hour).
			ThenEnded("i-1").
			ThenDeadlines("i-1")
		p.When(jetflowtest.EventOf("invoice", "i-1", "invoice.broken", nil)).ThenError(processes.ErrHandlerPanicked)
		p.ThenState("i-404", func(testing.TB, reminder) {})
	})
	for _, want := range []string{
		"command 1: differs", `expected: invoice.remind {"id":"i-1","n":7}`, `actual:   invoice.remind {"id":"i-1","n":1}`, "n: expected 7, actual 1",
		"deadline remind is due at 2026-01-03T00:00:00Z (in 24h0m0s), expected 2026-01-02T01:00:00Z (in 1h0m0s)",
		"instance i-1 is running, expected ended",
		`expected deadlines []`,
		"cannot handle a broken invoice",
		`no instance i-404 (instances: ["i-1"])`,
	} {
		if !strings.Contains(f.report(), want) {
			t.Errorf("the report does not say %q:\n%s", want, f.report())
		}
	}
}
