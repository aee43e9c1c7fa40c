package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// DefaultStopTimeout bounds the stop of one member of a Group, so a stuck
// one cannot hold the process.
const DefaultStopTimeout = 15 * time.Second

// MemberError is the failure a Group ends with: which member failed, and
// how (at its start, or later on its own).
type MemberError struct {
	Member string
	// Starting is true when the member's Start failed.
	Starting bool
	Err      error
}

func (e *MemberError) Error() string {
	if e.Starting {
		return fmt.Sprintf("%s: start: %v", e.Member, e.Err)
	}
	return fmt.Sprintf("%s stopped: %v", e.Member, e.Err)
}

func (e *MemberError) Unwrap() error { return e.Err }

// Group runs components as one. Add them in the order they depend on each
// other; Run starts them in that order and stops them in reverse.
type Group struct {
	log     *slog.Logger
	members []member
}

type member struct {
	name        string
	c           Component
	stopTimeout time.Duration
}

// NewGroup returns an empty group that logs to log (nil: nowhere).
func NewGroup(log *slog.Logger) *Group {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Group{log: log}
}

// Add appends a member; stopTimeout bounds its Stop (0:
// DefaultStopTimeout). Add every member before Run.
func (g *Group) Add(name string, c Component, stopTimeout time.Duration) {
	if stopTimeout <= 0 {
		stopTimeout = DefaultStopTimeout
	}
	g.members = append(g.members, member{name: name, c: c, stopTimeout: stopTimeout})
}

// Run starts every member in order, calls ready (when not nil) once all
// have started, and waits until ctx ends or a member ends on its own;
// then it stops every started member in reverse order and returns.
//
// It returns nil when ctx ended (also during a start), and a *MemberError
// naming the first member that failed, to start or later, otherwise. Stop
// errors are logged, not returned: the members are stopping anyway.
func (g *Group) Run(ctx context.Context, ready func()) error {
	started := make([]member, 0, len(g.members))
	defer func() { g.stop(started) }()
	for _, m := range g.members {
		// A Start that fails leaves nothing running: the member is not
		// stopped, only those started before it.
		if err := m.c.Start(ctx); err != nil {
			if ctx.Err() != nil {
				g.log.Info("stopped while starting", "component", m.name)
				return nil
			}
			return &MemberError{Member: m.name, Starting: true, Err: err}
		}
		started = append(started, m)
		select {
		case <-m.c.Done():
			return g.ended(m)
		default:
		}
	}
	if ready != nil {
		ready()
	}
	cases := make(chan member, len(started))
	quit := make(chan struct{})
	defer close(quit)
	for _, m := range started {
		go func() {
			select {
			case <-m.c.Done():
				cases <- m
			case <-quit:
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case m := <-cases:
		return g.ended(m)
	}
}

func (g *Group) ended(m member) error {
	err := m.c.Err()
	if err == nil {
		err = ErrEnded
	}
	g.log.Error("component ended; stopping the others", "component", m.name, "error", err)
	return &MemberError{Member: m.name, Err: err}
}

// stop stops members in reverse order, each within its timeout.
func (g *Group) stop(members []member) {
	for _, m := range slices.Backward(members) {
		ctx, cancel := context.WithTimeout(context.Background(), m.stopTimeout)
		err := m.c.Stop(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			g.log.Warn("stop "+m.name, "error", err)
		}
	}
}
