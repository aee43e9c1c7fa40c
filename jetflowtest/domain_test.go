package jetflowtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// A small account domain, written on the public packages as a user would.

const (
	EventOpened    = "account.opened"
	EventDeposited = "account.deposited"
	EventWithdrawn = "account.withdrawn"
	EventClosed    = "account.closed"
)

type Opened struct {
	Owner string `json:"owner"`
}

type Moved struct {
	Amount int `json:"amount"`
}

type Closed struct{}

// Account is the aggregate's state.
type Account struct {
	Owner   string `json:"owner"`
	Balance int    `json:"balance"`
	Closed  bool   `json:"closed"`
}

func NewAccount() *Account { return &Account{} }

func (a *Account) Apply(ev streams.Event) error {
	switch ev.Type {
	case EventOpened:
		var d Opened
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return err
		}
		a.Owner = d.Owner
	case EventDeposited, EventWithdrawn:
		var d Moved
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return err
		}
		if ev.Type == EventWithdrawn {
			d.Amount = -d.Amount
		}
		a.Balance += d.Amount
	case EventClosed:
		a.Closed = true
	default:
		return fmt.Errorf("account: unknown event type %q", ev.Type)
	}
	return nil
}

type Open struct {
	ID    string `json:"id,omitempty"`
	Owner string `json:"owner"`
}

// Validate returns a plain error: the command service answers it 400.
func (c Open) Validate() error {
	if c.Owner == "" {
		return errOwnerRequired
	}
	return nil
}

var errOwnerRequired = errors.New("owner is required")

type Deposit struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

func (c *Deposit) Validate() error {
	if c.Amount <= 0 {
		return aggregates.Invalid("amount %d must be positive", c.Amount)
	}
	return nil
}

type Withdraw struct {
	ID     string `json:"id"`
	Amount int    `json:"amount"`
}

type Close struct {
	ID string `json:"id"`
}

var (
	openSpec = aggregates.CommandSpec[*Account, Open]{
		Name:        "open",
		AggregateID: func(c *Open) string { return c.ID },
		AssignID:    func(c *Open, id string) { c.ID = id },
		Decide: func(c Open, acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
			if acc.Exists() {
				return nil, aggregates.Refused("account %s is already open", acc.ID)
			}
			return []aggregates.Change{{Type: EventOpened, Data: Opened{Owner: c.Owner}}}, nil
		},
	}
	depositSpec = aggregates.CommandSpec[*Account, Deposit]{
		Name:        "deposit",
		AggregateID: func(c *Deposit) string { return c.ID },
		Decide: func(c Deposit, acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
			if !acc.Exists() {
				return nil, aggregates.NotFound("no account %s", acc.ID)
			}
			return []aggregates.Change{{Type: EventDeposited, Data: Moved{Amount: c.Amount}}}, nil
		},
	}
	withdrawSpec = aggregates.CommandSpec[*Account, Withdraw]{
		Name:        "withdraw",
		AggregateID: func(c *Withdraw) string { return c.ID },
		Decide: func(c Withdraw, acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
			if !acc.Exists() {
				return nil, aggregates.NotFound("no account %s", acc.ID)
			}
			if c.Amount > acc.State.Balance {
				return nil, aggregates.Refused("balance %d is less than %d", acc.State.Balance, c.Amount)
			}
			return []aggregates.Change{{Type: EventWithdrawn, Data: Moved{Amount: c.Amount}}}, nil
		},
	}
	closeSpec = aggregates.CommandSpec[*Account, Close]{
		Name:        "close",
		AggregateID: func(c *Close) string { return c.ID },
		Decide: func(c Close, acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
			if acc.State.Closed {
				return nil, nil // already so: nothing to write
			}
			var out []aggregates.Change
			if acc.State.Balance > 0 {
				out = append(out, aggregates.Change{Type: EventWithdrawn, Data: Moved{Amount: acc.State.Balance}})
			}
			return append(out, aggregates.Change{Type: EventClosed, Data: Closed{}}), nil
		},
	}
)

// Summary is the read model's record: one per account.
type Summary struct {
	Owner     string    `json:"owner"`
	Balance   int       `json:"balance"`
	Version   uint64    `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// summaries keeps one record per open account, deleted when it closes.
var summaries = projections.JSONHandler[Summary]{
	KeyOf: func(ev streams.Event) (string, error) { return projections.Key(ev.AggregateID), nil },
	Evolve: func(_ context.Context, ev streams.Event, s *Summary) (*Summary, error) {
		if ev.Type == EventClosed {
			return nil, nil
		}
		if s == nil {
			s = &Summary{}
		}
		acc := Account{Owner: s.Owner, Balance: s.Balance}
		if err := acc.Apply(ev); err != nil {
			return nil, err
		}
		s.Owner, s.Balance, s.Version, s.UpdatedAt = acc.Owner, acc.Balance, ev.Version, ev.OccurredAt
		return s, nil
	},
}

// accountApp registers the account domain on an App, as a program's main
// would: the account commands (account.open, .deposit, .withdraw,
// .close), and the read model "accounts" (the summaries, held in memory)
// with the query accounts.get.
func accountApp() *jetflow.App {
	app := jetflow.New()
	jetflow.Aggregate(app, "account", NewAccount, func(svc *aggregates.Service, repo *aggregates.Repository[*Account]) error {
		return errors.Join(
			aggregates.Register(svc, repo, openSpec),
			aggregates.Register(svc, repo, depositSpec),
			aggregates.Register(svc, repo, withdrawSpec),
			aggregates.Register(svc, repo, closeSpec),
		)
	})
	jetflow.ReadModel(app, "accounts", func(cfg streams.Config) projections.Projection {
		return projections.Projection{Subjects: []string{cfg.SubjectPrefix + ".account.>"}, Handler: summaries}
	}, newAccounts, func(svc *projections.QueryService, view *projections.View[*accounts]) error {
		return projections.RegisterQuery(svc, "accounts", "get", func(ctx context.Context, req GetAccount) (any, uint64, error) {
			var s Summary
			applied, err := view.Read(ctx, req.MinSequence, func(m *accounts) error {
				found, ok := m.byKey[projections.Key(req.ID)]
				if !ok {
					return projections.NotFound("no account %s", req.ID)
				}
				s = found
				return nil
			})
			return s, applied, err
		})
	})
	return app
}

// GetAccount is the request of accounts.get.
type GetAccount struct {
	ID string `json:"id"`
	// MinSequence makes the reply wait until the read model has applied
	// this stream sequence (a command reply's Sequence).
	MinSequence uint64 `json:"min_sequence,omitempty"`
}

// accounts is the read model in memory: the summaries by record key.
type accounts struct {
	byKey map[string]Summary
}

func newAccounts() *accounts { return &accounts{byKey: map[string]Summary{}} }

func (m *accounts) Put(key string, value []byte) error {
	var s Summary
	if err := json.Unmarshal(value, &s); err != nil {
		return fmt.Errorf("record %s: %w", key, err)
	}
	m.byKey[key] = s
	return nil
}

func (m *accounts) Delete(key string) { delete(m.byKey, key) }
