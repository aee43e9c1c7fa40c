package consumers

import (
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	t.Parallel()
	// next, run in the background: the message and level it granted.
	type grant struct {
		m     *Message
		level int
		ok    bool
	}
	next := func(g *gate) <-chan grant {
		ch := make(chan grant, 1)
		go func() {
			m, l, ok := g.next()
			ch <- grant{m, l, ok}
		}()
		return ch
	}
	blocked := func(t *testing.T, ch <-chan grant, what string) {
		t.Helper()
		select {
		case got := <-ch:
			t.Fatalf("%s: granted %+v", what, got)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Run("slots bound concurrency", func(t *testing.T) {
		g := newGate(2, time.Now)
		if !g.tryAcquire(2) || !g.tryAcquire(2) {
			t.Fatal("two free slots")
		}
		if g.tryAcquire(2) {
			t.Fatal("a third slot was granted")
		}
		g.release(2, nil, 0)
		if !g.tryAcquire(2) {
			t.Fatal("released slot not granted")
		}
	})
	t.Run("held messages run most urgent first, FIFO within a level", func(t *testing.T) {
		g := newGate(1, time.Now)
		g.tryAcquire(3)
		low, normal, crit1, crit2 := &Message{}, &Message{}, &Message{}, &Message{}
		for _, h := range []struct {
			level int
			m     *Message
		}{{3, low}, {2, normal}, {0, crit1}, {0, crit2}} {
			if _, ok := g.hold(h.level, h.m); !ok {
				t.Fatal("hold refused")
			}
		}
		if g.tryAcquire(3) || g.tryAcquire(0) {
			t.Fatal("a delivery jumped ahead of held messages")
		}
		g.release(3, nil, 0)
		for _, want := range []*Message{crit1, crit2, normal, low} {
			got := <-next(g)
			if got.m != want {
				t.Fatalf("granted level %d, out of order", got.level)
			}
			g.release(got.level, nil, 0)
		}
	})
	t.Run("claim holds lower levels back until used or expired", func(t *testing.T) {
		g := newGate(1, time.Now)
		g.setClaim(0, 2, time.Hour)
		g.hold(3, &Message{})
		ch := next(g)
		blocked(t, ch, "low level while critical holds a claim")
		if g.tryAcquire(3) {
			t.Fatal("low delivery ran while critical holds a claim")
		}
		for range 2 {
			if !g.tryAcquire(0) {
				t.Fatal("critical refused")
			}
			g.release(0, nil, 0)
		}
		if got := <-ch; !got.ok || got.level != 3 {
			t.Fatalf("after the claim was used: %+v", got)
		}
		g2 := newGate(1, time.Now)
		g2.setClaim(1, 5, 30*time.Millisecond)
		g2.hold(2, &Message{})
		start := time.Now()
		if got := <-next(g2); !got.ok {
			t.Fatal("not granted")
		}
		if d := time.Since(start); d < 25*time.Millisecond {
			t.Fatalf("granted after %s, before the claim expired", d)
		}
	})
	t.Run("release renews a claim when more is pending", func(t *testing.T) {
		g := newGate(1, time.Now)
		g.tryAcquire(0)
		g.hold(3, &Message{})
		g.release(0, func() bool { return true }, time.Hour)
		ch := next(g)
		blocked(t, ch, "low level although critical said more was coming")
		g.tryAcquire(0)
		g.release(0, func() bool { return false }, time.Hour)
		if got := <-ch; !got.ok || got.level != 3 {
			t.Fatalf("after critical ran dry: %+v", got)
		}
	})
	t.Run("heldMessages lists what is held", func(t *testing.T) {
		g := newGate(0, time.Now)
		a, b := &Message{}, &Message{}
		g.hold(2, a)
		g.hold(0, b)
		if got := g.heldMessages(); len(got) != 2 || got[0] != b || got[1] != a {
			t.Fatalf("held %v", got)
		}
	})
	t.Run("finish lets runners leave once nothing is held", func(t *testing.T) {
		g := newGate(1, time.Now)
		g.hold(1, &Message{})
		g.finish()
		got := <-next(g)
		if !got.ok {
			t.Fatal("a held message was dropped by finish")
		}
		g.release(got.level, nil, 0)
		if got := <-next(g); got.ok {
			t.Fatal("runner kept waiting after finish")
		}
	})
	t.Run("close hands back held messages and stops everything", func(t *testing.T) {
		g := newGate(1, time.Now)
		g.tryAcquire(1)
		m := &Message{}
		g.hold(1, m)
		ch := next(g)
		blocked(t, ch, "no free slot")
		back := g.close()
		if len(back) != 1 || back[0] != m {
			t.Fatalf("close handed back %d messages", len(back))
		}
		if got := <-ch; got.ok {
			t.Fatal("runner granted after close")
		}
		if _, ok := g.hold(0, &Message{}); ok || g.tryAcquire(0) {
			t.Fatal("gate usable after close")
		}
	})
}
