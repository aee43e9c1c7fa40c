package aggregates_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
)

// Account is an aggregate: a state evolved by its events.
type Account struct {
	Balance int `json:"balance"`
}

// Apply evolves the state; the repository tracks version and position.
func (a *Account) Apply(ev streams.Event) error {
	var d struct {
		Amount int `json:"amount"`
	}
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		return err
	}
	switch ev.Type {
	case "account.deposited":
		a.Balance += d.Amount
	case "account.withdrawn":
		a.Balance -= d.Amount
	}
	return nil
}

// Withdraw decides a command: events, or a domain error.
func Withdraw(amount int) aggregates.Decider[*Account] {
	return func(acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
		if amount > acc.State.Balance {
			return nil, aggregates.Refused("balance %d is less than %d", acc.State.Balance, amount)
		}
		return []aggregates.Change{{Type: "account.withdrawn", Data: map[string]int{"amount": amount}}}, nil
	}
}

// Writing an aggregate and executing commands through its repository. The
// command service (aggregates.NewService, aggregates.Register) serves the
// same deciders over NATS.
func Example() {
	// An embedded JetStream server; a program connects to its own NATS.
	srv, err := jetflowtest.StartServer()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	cfg := streams.DefaultConfig()
	_ = streams.Provision(ctx, js, cfg)
	store, _ := streams.NewStore(js, cfg)
	snaps, _ := streams.NewSnapshots(ctx, js, cfg)

	repo, _ := aggregates.NewRepository("account", func() *Account { return &Account{} }, store, snaps)
	deposit := func(acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
		return []aggregates.Change{{Type: "account.deposited", Data: map[string]int{"amount": 50}}}, nil
	}
	out, _ := repo.Execute(ctx, "acc-7", aggregates.Command{ID: "deposit-1"}, deposit)
	fmt.Println("version", out.Version)
	_, err = repo.Execute(ctx, "acc-7", aggregates.Command{ID: "withdraw-1"}, Withdraw(80))
	fmt.Println(err)
	out, _ = repo.Execute(ctx, "acc-7", aggregates.Command{ID: "withdraw-2"}, Withdraw(30))
	acc, _ := repo.Load(ctx, "acc-7")
	fmt.Println("version", out.Version, "balance", acc.State.Balance)
	// Output:
	// version 1
	// balance 50 is less than 80
	// version 2 balance 20
}
