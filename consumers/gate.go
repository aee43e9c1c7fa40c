package consumers

import (
	"sync"
	"time"
)

// gate hands out the worker's concurrency slots by priority level.
//
// Every consume loop (one or more per level) runs the handler on its own
// goroutine, the way a raw pull consumer does, so the hot path has no
// hand-off between goroutines; the gate only decides who may run next:
//
//   - a free slot goes to the most urgent level with a waiter, FIFO within
//     a level;
//   - a level holds a claim while more of its messages are known to be on
//     the way. A claim keeps every lower level waiting until it is used up
//     or expires. Start sets claims from the consumers' pending counts, so a
//     backlog of critical messages is handled before the first low one even
//     though all levels start pulling at once; while lower levels wait, a
//     level renews its claim when the message it just handled says more
//     are pending (the delivery metadata's pending count).
type gate struct {
	mu      sync.Mutex
	free    int
	closed  bool
	waiters [numLevels][]chan bool
	claims  [numLevels]claim
	nclaims int // claims with left > 0, to skip the clock when there are none
	timer   *time.Timer
	now     func() time.Time
}

type claim struct {
	left  int
	until time.Time
}

func newGate(slots int, now func() time.Time) *gate {
	return &gate{free: slots, now: now}
}

// setClaim gives level the next n slots before any lower level, for at most d.
func (g *gate) setClaim(level, n int, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.setClaimLocked(level, n, d)
}

func (g *gate) setClaimLocked(level, n int, d time.Duration) {
	if n <= 0 {
		return
	}
	if g.claims[level].left == 0 {
		g.nclaims++
	}
	g.claims[level] = claim{left: n, until: g.now().Add(d)}
}

func (g *gate) dropClaimLocked(level int) {
	if g.claims[level].left > 0 {
		g.claims[level] = claim{}
		g.nclaims--
	}
}

// acquire blocks until level may run a handler; false when the gate closed.
func (g *gate) acquire(level int) bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	if g.free > 0 && !g.hasWaiterUpToLocked(level) && !g.claimedAboveLocked(level) {
		g.takeLocked(level)
		g.mu.Unlock()
		return true
	}
	ch := make(chan bool, 1)
	g.waiters[level] = append(g.waiters[level], ch)
	g.dispatchLocked()
	g.mu.Unlock()
	return <-ch
}

// release frees level's slot. more reports whether level has more messages
// on the way; it is consulted only when a lower level is waiting, because it
// costs a metadata parse.
func (g *gate) release(level int, more func() bool, claimFor time.Duration) {
	g.mu.Lock()
	g.free++
	if more != nil && g.claims[level].left == 0 && g.hasWaiterBelowLocked(level) && more() {
		g.setClaimLocked(level, 1, claimFor)
	}
	g.dispatchLocked()
	g.mu.Unlock()
}

// close fails every waiter and every later acquire.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.closed = true
	for l := range g.waiters {
		for _, ch := range g.waiters[l] {
			ch <- false
		}
		g.waiters[l] = nil
	}
	if g.timer != nil {
		g.timer.Stop()
	}
}

func (g *gate) takeLocked(level int) {
	g.free--
	if c := &g.claims[level]; c.left > 0 {
		c.left--
		if c.left == 0 {
			g.nclaims--
		}
	}
}

func (g *gate) hasWaiterUpToLocked(level int) bool {
	for l := 0; l <= level; l++ {
		if len(g.waiters[l]) > 0 {
			return true
		}
	}
	return false
}

func (g *gate) hasWaiterBelowLocked(level int) bool {
	for l := level + 1; l < numLevels; l++ {
		if len(g.waiters[l]) > 0 {
			return true
		}
	}
	return false
}

// claimedAboveLocked reports an unexpired claim of a level more urgent than
// level, dropping expired ones.
func (g *gate) claimedAboveLocked(level int) bool {
	if g.nclaims == 0 {
		return false
	}
	now := g.now()
	for l := 0; l < level; l++ {
		if g.claims[l].left == 0 {
			continue
		}
		if now.Before(g.claims[l].until) {
			return true
		}
		g.dropClaimLocked(l)
	}
	return false
}

// dispatchLocked grants free slots to waiters, most urgent first, and arms a
// timer when waiters are held back only by a claim.
func (g *gate) dispatchLocked() {
	for g.free > 0 {
		granted := false
		for l := 0; l < numLevels; l++ {
			if len(g.waiters[l]) == 0 {
				continue
			}
			if g.claimedAboveLocked(l) {
				break // a more urgent level is expecting messages
			}
			ch := g.waiters[l][0]
			g.waiters[l][0] = nil
			g.waiters[l] = g.waiters[l][1:]
			g.takeLocked(l)
			ch <- true
			granted = true
			break
		}
		if !granted {
			break
		}
	}
	g.armTimerLocked()
}

// armTimerLocked wakes the dispatcher when the earliest claim expires, if
// anyone might be waiting on it.
func (g *gate) armTimerLocked() {
	if g.nclaims == 0 || g.free == 0 {
		return
	}
	waiting := false
	for l := range g.waiters {
		if len(g.waiters[l]) > 0 {
			waiting = true
			break
		}
	}
	if !waiting {
		return
	}
	var earliest time.Time
	for _, c := range g.claims {
		if c.left > 0 && (earliest.IsZero() || c.until.Before(earliest)) {
			earliest = c.until
		}
	}
	d := max(earliest.Sub(g.now()), time.Millisecond)
	if g.timer == nil {
		g.timer = time.AfterFunc(d, g.onTimer)
		return
	}
	g.timer.Reset(d)
}

func (g *gate) onTimer() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.dispatchLocked()
	}
}
