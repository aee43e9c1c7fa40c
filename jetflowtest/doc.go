// Package jetflowtest owns jetflow's public test kit: what a team writing its
// own domain (orders, payments, accounts) on the packages streams,
// aggregates, projections and consumers needs in its tests.
//
//   - Servers: RunServer starts a real embedded JetStream server on a random
//     loopback port with a temporary store dir, and RunCluster a 3-node
//     cluster; both are torn down by t.Cleanup, leaving no goroutine and no
//     file behind. Nothing in jetflow mocks NATS. Where there is no
//     *testing.T (an Example function, a small program, a main that demos
//     a domain), StartServer starts the same server and its Close stops it
//     and removes its temporary store dir.
//   - The app harness: RunApp runs a registered jetflow.App for a test as
//     `jetflow serve` runs it, on an embedded server of its own; Send and
//     Query go to it over NATS, WaitCaughtUp waits for a projection.
//   - The aggregate fixture, in the Given / When / Then style and without a
//     server: Given replays past events into a fresh state, When runs a
//     command the way the command service would (its Validate, then the
//     spec's Decide), and Then, ThenError or ThenNothing check what it
//     decided, printing a readable diff of expected and actual events when
//     they differ. ThenState checks the state after the decided events.
//   - The projection fixture, without a server: GivenEvents feeds events to
//     a projections.Handler in stream order and ThenRecord or ThenNoRecord
//     check the read model's records.
//   - The process fixture, without a server: GivenProcess runs a
//     process manager (processes.Definition) in memory on a fake clock;
//     When hands it events, Advance moves the clock and fires the
//     deadlines that fall due, and ThenCommands, ThenDeadlines,
//     ThenDeadlineIn, ThenState, ThenEnded, ThenSkipped and ThenError
//     check what it did.
//   - Event and EventOf build the events the fixtures take.
//   - In-memory stores: NewEventStore and NewSnapshotStore keep the promises
//     of streams.Store and streams.Snapshots (a conformance suite runs both
//     on the same table), so an aggregates.Repository runs without a
//     server; FailNextAppend and LoseNextAck make appends fail on purpose.
//
// A test of a command:
//
//	func TestWithdrawRefusedBeyondBalance(t *testing.T) {
//		jetflowtest.Given(t, NewAccount,
//			jetflowtest.EventOf("account", "a1", EventOpened, Opened{Owner: "ada"}),
//			jetflowtest.Event(EventDeposited, Deposited{Amount: 50}),
//		).
//			When(jetflowtest.Command(withdrawSpec, Withdraw{ID: "a1", Amount: 80})).
//			ThenError(aggregates.ErrRuleViolated)
//	}
//
// Comparisons are made on JSON: event data and records match when they
// encode to the same JSON value, whatever Go type carries them (a struct, a
// map, json.RawMessage), with object keys in any order.
//
// Failures are reported with t.Errorf when the test can go on checking and
// with t.Fatalf when it cannot (a past event the state refuses, a command
// aimed at another aggregate than the given events).
package jetflowtest
