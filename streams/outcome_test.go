package streams_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/streams"
)

// apiRelay passes a store's JetStream API requests to the server, dropping
// leader reads (STREAM.MSG.GET) while drop says so: the store then sees a
// leader that does not answer, as during an election.
type apiRelay struct {
	dropped atomic.Int64
	drop    func(n int64) bool // n counts the leader reads so far, from 1
	reads   atomic.Int64
}

const relayPrefix = "$RELAY.API."

func relayStore(t *testing.T, url string, drop func(n int64) bool) (*fixture, *apiRelay) {
	t.Helper()
	relay := &apiRelay{drop: drop}
	rnc := natstest.Connect(t, url)
	sub, err := rnc.Subscribe(relayPrefix+">", func(m *nats.Msg) {
		if strings.HasPrefix(m.Subject, relayPrefix+"STREAM.MSG.GET.") && relay.drop(relay.reads.Add(1)) {
			relay.dropped.Add(1)
			return
		}
		fwd := nats.NewMsg(jetstream.DefaultAPIPrefix + strings.TrimPrefix(m.Subject, relayPrefix))
		fwd.Reply, fwd.Header, fwd.Data = m.Reply, m.Header, m.Data
		_ = rnc.PublishMsg(fwd)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := rnc.Flush(); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.NewWithAPIPrefix(natstest.Connect(t, url), relayPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return fixtureOn(t, js, streams.DefaultConfig()), relay
}

// A refused append whose check for an earlier attempt meets a leader that
// does not answer for a while asks again, within the caller's deadline,
// and ends in a result the caller can act on: here a clean conflict.
// (It used to return "checking for an earlier attempt ... context deadline
// exceeded", which was neither a conflict nor a success.)
func TestConflictCheckRetriesWhileTheLeaderDoesNotAnswer(t *testing.T) {
	t.Parallel()
	f, relay := relayStore(t, natstest.RunServer(t).URL, func(n int64) bool { return n <= 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, ev("doc.created", nil)); err != nil {
		t.Fatal(err)
	}
	_, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, ev("doc.created", nil))
	var ce *streams.ConflictError
	if !errors.As(err, &ce) || errors.Is(err, streams.ErrOutcomeUnknown) {
		t.Fatalf("stale append with a slow leader: %v, want a clean conflict", err)
	}
	if relay.dropped.Load() != 2 {
		t.Fatalf("%d leader reads dropped, want 2 (the relay is not in the path)", relay.dropped.Load())
	}
}

// When the leader stays silent until the caller's deadline, the error says
// the outcome is unknown, in the caller's time, and carries the events as
// sent: appending them again at the same position settles it.
func TestConflictCheckThatNeverAnswersIsOutcomeUnknown(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	f, _ := relayStore(t, srv.URL, func(int64) bool { return true })
	setup, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.store.Append(setup, "doc", "d1", streams.Position{}, ev("doc.created", nil)); err != nil {
		t.Fatal(err)
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	start := time.Now()
	_, err := f.store.Append(ctx, "doc", "d1", streams.Position{}, ev("doc.created", nil))
	took := time.Since(start)
	var unknown *streams.OutcomeUnknownError
	if !errors.As(err, &unknown) || !errors.Is(err, streams.ErrOutcomeUnknown) {
		t.Fatalf("append whose check never answers: %v, want *OutcomeUnknownError", err)
	}
	if took > 2500*time.Millisecond {
		t.Fatalf("returned after %s, the caller's deadline was 1.5s", took)
	}
	if len(unknown.Events) != 1 || unknown.Events[0].ID == "" || unknown.After != (streams.Position{}) {
		t.Fatalf("error carries events %+v after %+v, want the sent event with its id", unknown.Events, unknown.After)
	}
	// Settled through a store whose leader answers: not stored, a conflict.
	direct := newFixture(t, srv.URL, 1)
	_, err = direct.store.Append(setup, "doc", "d1", unknown.After, unknown.Events...)
	if !errors.Is(err, streams.ErrConcurrencyConflict) {
		t.Fatalf("settling append: %v, want a conflict", err)
	}
	if n := len(loadAll(t, direct.store, "doc", "d1", 0)); n != 1 {
		t.Fatalf("aggregate has %d events, want 1", n)
	}
}

// An append honours its caller's deadline even when the server does not
// answer: a batch used to wait out a fixed 5 s. The events may be stored
// (they were sent), so the error is an *OutcomeUnknownError, and once the
// server answers again the same append settles it without a second copy.
func TestAppendHonoursTheCallersDeadline(t *testing.T) {
	t.Parallel()
	srv := natstest.RunServer(t)
	proxy := natstest.RunProxy(t, strings.TrimPrefix(srv.URL, "nats://"))
	f := newFixture(t, proxy.URL, 1)
	for _, n := range []int{1, 3} {
		id := "deadline" + string(rune('0'+n))
		events := make([]streams.Event, n)
		for i := range events {
			events[i] = ev("doc.edited", map[string]int{"rev": i})
		}
		proxy.Pause()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		_, err := f.store.Append(ctx, "doc", id, streams.Position{}, events...)
		took := time.Since(start)
		cancel()
		var unknown *streams.OutcomeUnknownError
		if !errors.As(err, &unknown) || !errors.Is(err, context.DeadlineExceeded) {
			proxy.Resume()
			t.Fatalf("%d events to a silent server: %v, want *OutcomeUnknownError matching DeadlineExceeded", n, err)
		}
		if took > time.Second {
			proxy.Resume()
			t.Fatalf("%d events: returned after %s, the caller's deadline was 300ms", n, took)
		}
		proxy.Resume()
		settle, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := f.store.Append(settle, "doc", id, unknown.After, unknown.Events...)
		cancel()
		if err != nil {
			t.Fatalf("%d events: settling append: %v", n, err)
		}
		if got := len(loadAll(t, f.store, "doc", id, 0)); got != n || res.Version != uint64(n) {
			t.Fatalf("%d events: aggregate has %d events at version %d after settling", n, got, res.Version)
		}
	}
}

// A ctx that has ended before anything is sent stores nothing, and says so
// plainly: the outcome is known.
func TestAppendWithAnEndedContextSendsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, natstest.RunServer(t).URL, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, n := range []int{1, 2} {
		events := make([]streams.Event, n)
		for i := range events {
			events[i] = ev("doc.edited", nil)
		}
		_, err := f.store.Append(ctx, "doc", "ended", streams.Position{}, events...)
		if !errors.Is(err, context.Canceled) || errors.Is(err, streams.ErrOutcomeUnknown) {
			t.Fatalf("%d events with an ended ctx: %v, want context.Canceled and a known outcome", n, err)
		}
	}
	if got := lastSeq(t, f.js); got != 0 {
		t.Fatalf("stream at sequence %d, want nothing stored", got)
	}
}
