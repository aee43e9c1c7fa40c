package jetflowtest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/jetflow/jetflow/aggregates"
	"github.com/jetflow/jetflow/jetflowtest"
)

// The deciders of the store examples, on the account domain.

func openAccount(owner string) aggregates.Decider[*Account] {
	return func(acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
		if acc.Exists() {
			return nil, aggregates.Refused("account %s is already open", acc.ID)
		}
		return []aggregates.Change{{Type: EventOpened, Data: Opened{Owner: owner}}}, nil
	}
}

func depositInto(amount int) aggregates.Decider[*Account] {
	return func(acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
		if !acc.Exists() {
			return nil, aggregates.NotFound("no account %s", acc.ID)
		}
		return []aggregates.Change{{Type: EventDeposited, Data: Moved{Amount: amount}}}, nil
	}
}

// A repository tested without a NATS server: its event store and snapshot
// store are in memory and keep the promises of streams' stores, conflicts
// included. Two repositories on the same stores stand for two processes:
// the first decides on an aggregate it loaded before the second wrote, its
// append meets the conflict, and it loads and decides again.
func ExampleNewEventStore() {
	ctx := context.Background()
	store, snaps := jetflowtest.NewEventStore(), jetflowtest.NewSnapshotStore()
	first, _ := aggregates.NewRepository("account", NewAccount, store, snaps)
	second, _ := aggregates.NewRepository("account", NewAccount, store, snaps)

	out, _ := first.Execute(ctx, "a1", aggregates.Command{ID: "open-1"}, openAccount("ada"))
	fmt.Println("opened at version", out.Version)
	out, _ = second.Execute(ctx, "a1", aggregates.Command{ID: "deposit-1"}, depositInto(50))
	fmt.Println("the second process deposits: version", out.Version)

	decisions := 0
	out, err := first.Execute(ctx, "a1", aggregates.Command{ID: "deposit-2"}, func(acc *aggregates.Instance[*Account]) ([]aggregates.Change, error) {
		decisions++
		fmt.Printf("decision %d on version %d\n", decisions, acc.Position.Version)
		return depositInto(20)(acc)
	})
	fmt.Println("the first process deposits: version", out.Version, err)

	for ev, err := range store.Load(ctx, "account", "a1", 0) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(ev.Sequence, ev.Version, ev.Type, string(ev.Data))
	}
	// Output:
	// opened at version 1
	// the second process deposits: version 2
	// decision 1 on version 1
	// decision 2 on version 2
	// the first process deposits: version 3 <nil>
	// 1 1 account.opened {"owner":"ada"}
	// 2 2 account.deposited {"amount":50}
	// 3 3 account.deposited {"amount":20}
}

// Testing what happens when an append's ack is lost: the repository sends
// the same events again at the same position and the store answers with
// what it stored the first time, so the command succeeds once. A failure
// the repository cannot settle reaches the caller.
func ExampleEventStore_LoseNextAck() {
	ctx := context.Background()
	store := jetflowtest.NewEventStore()
	repo, _ := aggregates.NewRepository("account", NewAccount, store, nil)
	_, _ = repo.Execute(ctx, "a1", aggregates.Command{ID: "open-1"}, openAccount("ada"))

	store.LoseNextAck()
	out, err := repo.Execute(ctx, "a1", aggregates.Command{ID: "deposit-1"}, depositInto(50))
	fmt.Println("deposit after a lost ack: version", out.Version, err)

	errDiskFull := errors.New("disk full")
	store.FailNextAppend(errDiskFull)
	_, err = repo.Execute(ctx, "a1", aggregates.Command{ID: "deposit-2"}, depositInto(20))
	fmt.Println("deposit on a failing store:", err, errors.Is(err, errDiskFull))

	stored := 0
	for range store.Load(ctx, "account", "a1", 0) {
		stored++
	}
	fmt.Println("events stored:", stored)
	// Output:
	// deposit after a lost ack: version 2 <nil>
	// deposit on a failing store: disk full true
	// events stored: 2
}
