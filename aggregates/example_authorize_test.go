package aggregates_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/jetflowtest"
	"github.com/jetflow/jetflow/streams"
)

// WithdrawFrom is the command account.withdraw: the account is its owner's
// user id.
type WithdrawFrom struct {
	Account string `json:"account"`
	Amount  int    `json:"amount"`
}

// Who may send which command: the service's authorizer sees every command
// (here: nobody but ops may touch an account marked frozen), a command's
// own Authorize its decoded body (here: only an account's owner or an
// admin may withdraw from it). A refusal is a 403 forbidden whose message
// the client gets. The caller is who the NATS server says sent the
// command when it authenticates its users (ServiceConfig.Identity; the
// README's Security section); this embedded server has no users, so the
// caller is the client's Jetflow-User-Id.
func ExampleWithAuthorizer() {
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
	repo, _ := aggregates.NewRepository("account", func() *Account { return &Account{} }, store, nil)

	admins := map[string]bool{"root": true}
	svc, err := aggregates.NewService(nc, aggregates.ServiceConfig{},
		aggregates.WithAuthorizer(func(_ context.Context, a aggregates.Authorization) error {
			if strings.HasPrefix(a.AggregateID, "frozen-") && !strings.HasPrefix(a.Caller.UserID, "ops-") {
				return aggregates.Forbidden("account %s is frozen", a.AggregateID)
			}
			return nil
		}))
	if err != nil {
		panic(err)
	}
	err = aggregates.Register(svc, repo, aggregates.CommandSpec[*Account, WithdrawFrom]{
		Name:        "withdraw",
		AggregateID: func(c *WithdrawFrom) string { return c.Account },
		Authorize: func(_ context.Context, caller aggregates.Caller, c *WithdrawFrom) error {
			if caller.UserID != c.Account && !admins[caller.UserID] {
				return aggregates.Forbidden("%s may not withdraw from %s", caller.UserID, c.Account)
			}
			return nil
		},
		Decide: func(c WithdrawFrom, acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
			return []aggregates.Change{{Type: "account.withdrawn", Data: map[string]int{"amount": c.Amount}}}, nil
		},
	})
	if err != nil {
		panic(err)
	}
	if err := svc.Start(ctx); err != nil {
		panic(err)
	}
	defer func() { _ = svc.Stop(ctx) }()

	c := client.New(nc)
	for _, try := range []struct{ user, account string }{{"alice", "alice"}, {"bob", "alice"}, {"root", "alice"}, {"alice", "frozen-9"}} {
		_, err := c.Send(ctx, "account.withdraw", WithdrawFrom{Account: try.account, Amount: 5}, client.UserID(try.user))
		if err != nil {
			fmt.Printf("%s from %s: %v\n", try.user, try.account, err)
			continue
		}
		fmt.Printf("%s from %s: done\n", try.user, try.account)
	}
	// Output:
	// alice from alice: done
	// bob from alice: 403 forbidden: bob may not withdraw from alice
	// root from alice: done
	// alice from frozen-9: 403 forbidden: account frozen-9 is frozen
}
