package lifecycle_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jetflow/jetflow/lifecycle"
)

// journal records what the members of a group did, in order.
type journal struct {
	mu  sync.Mutex
	log []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.log = append(j.log, s)
}

func (j *journal) entries() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.log)
}

// fake is a member that records its start and stop, fails its start when
// told, and ends on its own when fail is called.
type fake struct {
	name     string
	j        *journal
	startErr error
	lifecycle.Ending
}

func (f *fake) Start(context.Context) error {
	f.j.add("start " + f.name)
	return f.startErr
}

func (f *fake) Stop(context.Context) error {
	f.j.add("stop " + f.name)
	f.Stopped()
	return nil
}

func TestGroupStopsEveryMemberInReverseWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	j := &journal{}
	g := lifecycle.NewGroup(nil)
	for _, n := range []string{"nats", "commands", "workers"} {
		g.Add(n, &fake{name: n, j: j}, 0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err := g.Run(ctx, func() { j.add("ready"); cancel() })
	if err != nil {
		t.Fatalf("Run = %v, want nil after the context ended", err)
	}
	want := []string{"start nats", "start commands", "start workers", "ready", "stop workers", "stop commands", "stop nats"}
	if got := j.entries(); !slices.Equal(got, want) {
		t.Fatalf("journal %q, want %q", got, want)
	}
}

func TestGroupEndsWithTheFirstMemberThatFails(t *testing.T) {
	t.Parallel()
	j := &journal{}
	g := lifecycle.NewGroup(nil)
	nats, commands, workers := &fake{name: "nats", j: j}, &fake{name: "commands", j: j}, &fake{name: "workers", j: j}
	g.Add("nats", nats, 0)
	g.Add("commands", commands, 0)
	g.Add("workers", workers, 0)
	lost := errors.New("connection closed")
	err := g.Run(context.Background(), func() { commands.Fail(lost) })
	var me *lifecycle.MemberError
	if !errors.As(err, &me) || me.Member != "commands" || me.Starting || !errors.Is(err, lost) {
		t.Fatalf("Run = %v, want the failure of commands", err)
	}
	want := []string{"start nats", "start commands", "start workers", "stop workers", "stop commands", "stop nats"}
	if got := j.entries(); !slices.Equal(got, want) {
		t.Fatalf("journal %q, want %q", got, want)
	}
	if commands.Err() != lost || nats.Err() != nil {
		t.Fatalf("Err: commands %v, nats %v", commands.Err(), nats.Err())
	}
}

func TestGroupStopsWhatStartedWhenAStartFails(t *testing.T) {
	t.Parallel()
	j := &journal{}
	g := lifecycle.NewGroup(nil)
	refused := errors.New("port in use")
	g.Add("nats", &fake{name: "nats", j: j}, 0)
	g.Add("metrics", &fake{name: "metrics", j: j, startErr: refused}, 0)
	g.Add("workers", &fake{name: "workers", j: j}, 0)
	readied := false
	err := g.Run(context.Background(), func() { readied = true })
	var me *lifecycle.MemberError
	if !errors.As(err, &me) || me.Member != "metrics" || !me.Starting || !errors.Is(err, refused) || readied {
		t.Fatalf("Run = %v (ready called: %v), want the start failure of metrics", err, readied)
	}
	want := []string{"start nats", "start metrics", "stop nats"}
	if got := j.entries(); !slices.Equal(got, want) {
		t.Fatalf("journal %q, want %q", got, want)
	}
}

func TestFuncEndsOnItsOwnWithItsError(t *testing.T) {
	t.Parallel()
	boom := errors.New("listener closed")
	c := lifecycle.Func(func(ctx context.Context) error { return boom })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the function returned")
	}
	if !errors.Is(c.Err(), boom) {
		t.Fatalf("Err = %v, want %v", c.Err(), boom)
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatalf("Stop after it ended = %v", err)
	}

	quiet := lifecycle.Func(func(ctx context.Context) error { return nil })
	_ = quiet.Start(context.Background())
	<-quiet.Done()
	if !errors.Is(quiet.Err(), lifecycle.ErrEnded) {
		t.Fatalf("a function that returned nil early: Err = %v, want ErrEnded", quiet.Err())
	}
}

func TestFuncStopCancelsAndWaits(t *testing.T) {
	t.Parallel()
	returned := make(chan struct{})
	c := lifecycle.Func(func(ctx context.Context) error {
		<-ctx.Done()
		close(returned)
		return ctx.Err()
	})
	startCtx, cancelStart := context.WithCancel(context.Background())
	if err := c.Start(startCtx); err != nil {
		t.Fatal(err)
	}
	cancelStart() // the start's context does not bound the function's life
	select {
	case <-c.Done():
		t.Fatal("ended when its start context ended")
	case <-time.After(50 * time.Millisecond):
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Stop returned before the function did")
	}
	if c.Err() != nil {
		t.Fatalf("Err after Stop = %v, want nil", c.Err())
	}
}

func TestFuncStopIsBoundedByItsContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c := lifecycle.Func(func(ctx context.Context) error { <-release; return nil })
	_ = c.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop of a function ignoring its context = %v, want DeadlineExceeded", err)
	}
}
