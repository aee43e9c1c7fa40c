package consumers

import (
	"sync"
	"time"
)

// gate hands out the worker's concurrency slots by priority level and holds
// the messages that cannot run yet.
//
// A consume callback runs its message inline when the gate lets it (a free
// slot, nothing more urgent or earlier waiting, no claim above), so the hot
// path has no hand-off between goroutines. Otherwise the message is held
// here and the callback returns at once: a held message is visible to the
// watchdog, which keeps its ack wait from running out, whereas a message
// left in the client's pull buffer behind a blocked callback would be
// redelivered (and finally dead-lettered) while a more urgent backlog runs.
// Runner goroutines take held messages as slots free up:
//
//   - the most urgent level first, FIFO within a level;
//   - a level holds a claim while more of its messages are known to be on
//     the way. A claim keeps every lower level waiting until it is used up
//     or expires. Start sets claims from the consumers' pending counts, so a
//     backlog of critical messages is handled before the first low one even
//     though all levels start pulling at once; while lower levels wait, a
//     level renews its claim when the message it just handled says more
//     are pending (the delivery metadata's pending count).
type gate struct {
	mu        sync.Mutex
	wake      *sync.Cond // runners: a held message may run, or the gate ends
	free      int
	closed    bool // hard stop: nothing more runs
	finishing bool // graceful stop: runners leave once nothing is held
	held      [numLevels][]*Message
	nheld     int
	claims    [numLevels]claim
	nclaims   int // claims with left > 0, to skip the clock when there are none
	timer     *time.Timer
	now       func() time.Time
}

type claim struct {
	left  int
	until time.Time
}

func newGate(slots int, now func() time.Time) *gate {
	g := &gate{free: slots, now: now}
	g.wake = sync.NewCond(&g.mu)
	return g
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

// tryAcquire takes a slot for level if it may run now.
func (g *gate) tryAcquire(level int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.free == 0 || g.heldUpToLocked(level) || g.claimedAboveLocked(level) {
		return false
	}
	g.takeLocked(level)
	return true
}

// hold queues m for a runner and returns how many messages level now
// holds; false when the gate is closed (the caller gives m back).
func (g *gate) hold(level int, m *Message) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, false
	}
	g.held[level] = append(g.held[level], m)
	g.nheld++
	g.wake.Signal()
	g.armTimerLocked()
	return len(g.held[level]), true
}

// next blocks until a held message may run and returns it with its slot
// taken; false once the gate is closed, or finishing with nothing held.
func (g *gate) next() (*Message, int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		if g.closed {
			return nil, 0, false
		}
		if g.free > 0 {
			if l := g.grantableLocked(); l >= 0 {
				m := g.held[l][0]
				g.held[l][0] = nil
				g.held[l] = g.held[l][1:]
				g.nheld--
				g.takeLocked(l)
				return m, l, true
			}
		}
		if g.finishing && g.nheld == 0 {
			return nil, 0, false
		}
		g.armTimerLocked()
		g.wake.Wait()
	}
}

// heldAt reports how many messages level holds.
func (g *gate) heldAt(level int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.held[level])
}

// release frees level's slot. more reports whether level has more messages
// on the way; it is consulted only when a lower level is held, because it
// costs a metadata parse.
func (g *gate) release(level int, more func() bool, claimFor time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.free++
	if more != nil && g.claims[level].left == 0 && g.heldBelowLocked(level) && more() {
		g.setClaimLocked(level, 1, claimFor)
	}
	if g.nheld > 0 {
		g.wake.Signal()
	}
}

// heldMessages returns the messages held now, for the watchdog.
func (g *gate) heldMessages() []*Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*Message, 0, g.nheld)
	for l := range g.held {
		out = append(out, g.held[l]...)
	}
	return out
}

// finish lets runners leave once nothing is held.
func (g *gate) finish() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.finishing = true
	g.wake.Broadcast()
}

// close stops every runner and later acquire and hands back the messages
// still held, for the caller to return to the server.
func (g *gate) close() []*Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	var out []*Message
	for l := range g.held {
		out = append(out, g.held[l]...)
		g.held[l] = nil
	}
	g.nheld = 0
	if g.timer != nil {
		g.timer.Stop()
	}
	g.wake.Broadcast()
	return out
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

func (g *gate) heldUpToLocked(level int) bool {
	for l := 0; l <= level; l++ {
		if len(g.held[l]) > 0 {
			return true
		}
	}
	return false
}

func (g *gate) heldBelowLocked(level int) bool {
	for l := level + 1; l < numLevels; l++ {
		if len(g.held[l]) > 0 {
			return true
		}
	}
	return false
}

// grantableLocked is the most urgent level with a held message that no
// claim above holds back, or -1.
func (g *gate) grantableLocked() int {
	for l := 0; l < numLevels; l++ {
		if len(g.held[l]) == 0 {
			continue
		}
		if g.claimedAboveLocked(l) {
			return -1 // a more urgent level is expecting messages
		}
		return l
	}
	return -1
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

// armTimerLocked wakes the runners when the earliest claim expires, if a
// held message might be waiting on it.
func (g *gate) armTimerLocked() {
	if g.nclaims == 0 || g.nheld == 0 || g.free == 0 {
		return
	}
	now := g.now()
	var earliest time.Time
	for l, c := range g.claims {
		if c.left > 0 && !now.Before(c.until) {
			g.dropClaimLocked(l) // expired: nothing to wake up for
			continue
		}
		if c.left > 0 && (earliest.IsZero() || c.until.Before(earliest)) {
			earliest = c.until
		}
	}
	if earliest.IsZero() {
		return
	}
	d := max(earliest.Sub(now), time.Millisecond)
	if g.timer == nil {
		g.timer = time.AfterFunc(d, g.onTimer)
		return
	}
	g.timer.Reset(d)
}

func (g *gate) onTimer() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.wake.Broadcast()
}
