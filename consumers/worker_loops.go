package consumers

import (
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// levelRun is one priority level: its consumer and the Consume loops that
// pull from it. A level whose held messages reach BatchSize is paused (its
// loops drained, so the client stops pulling ahead and hands over what it
// buffered) and resumed once half of them have run.
type levelRun struct {
	level   int
	durable string
	cons    jetstream.Consumer
	loops   []*loop // the pulling loops; none while paused (w.mu)
	paused  atomic.Bool
}

// loop is one Consume on a level's consumer. Its callback runs on the
// subscription's own goroutine and calls the handler inline when the gate
// lets it, else hands the message to the gate and returns.
type loop struct {
	w     *Worker
	level *levelRun
	cc    jetstream.ConsumeContext
	inflight
}

// inflight is the message a goroutine is handling, for the watchdog.
type inflight struct {
	cur atomic.Pointer[Message]
}

// startLoopsLocked starts Concurrency loops on lr, so a level alone can use
// every slot; the level's pull-ahead is split between them. All or none
// start. w.mu is held.
func (w *Worker) startLoopsLocked(lr *levelRun) error {
	perLoop := max(1, (w.sub.BatchSize+w.sub.Concurrency-1)/w.sub.Concurrency)
	started := make([]*loop, 0, w.sub.Concurrency)
	for range w.sub.Concurrency {
		l := &loop{w: w, level: lr}
		cc, err := lr.cons.Consume(l.onMsg,
			jetstream.PullMaxMessages(perLoop),
			jetstream.ConsumeErrHandler(w.onConsumeError))
		if err != nil {
			for _, s := range started {
				s.cc.Drain() // what they pulled still arrives and is held
			}
			return fmt.Errorf("consumers: subscription %s: consume %s: %w", w.sub.Name, lr.durable, err)
		}
		l.cc = cc
		started = append(started, l)
		w.loops = append(w.loops, l)
	}
	lr.loops = append(lr.loops, started...)
	return nil
}

// onMsg runs on the loop's subscription goroutine for every delivery.
func (l *loop) onMsg(raw jetstream.Msg) {
	w, level := l.w, l.level.level
	m := newMessage(raw, w.sub.Name, w.sub.Topic)
	m.pinged.Store(w.ticks.Load())
	if w.gate.tryAcquire(level) {
		l.cur.Store(m)
		w.process(m)
		l.cur.Store(nil)
		w.gate.release(level, m.morePending, claimWindow)
		return
	}
	held, ok := w.gate.hold(level, m)
	if !ok {
		w.giveBack(raw)
		return
	}
	if held >= w.sub.BatchSize {
		w.pause(l.level)
	}
}

// run is a runner: it handles the messages the gate held, most urgent first.
func (w *Worker) run(r *inflight) {
	for {
		m, level, ok := w.gate.next()
		if !ok {
			return
		}
		r.cur.Store(m)
		w.process(m)
		r.cur.Store(nil)
		w.gate.release(level, m.morePending, claimWindow)
		w.resumeIfRoom(w.levelRun(level))
	}
}

func (w *Worker) levelRun(level int) *levelRun {
	for _, lr := range w.levels {
		if lr.level == level {
			return lr
		}
	}
	return nil
}

// pause stops lr pulling ahead while its held messages wait; what its
// loops already buffered still arrives and is held.
func (w *Worker) pause(lr *levelRun) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if lr.paused.Load() || w.state != stateRunning {
		return
	}
	lr.paused.Store(true)
	for _, l := range lr.loops {
		l.cc.Drain()
	}
	lr.loops = nil
	w.log.Debug("priority level paused: its messages wait for more urgent ones", slog.String("consumer", lr.durable))
}

// resumeIfRoom restarts a paused level once half its held messages ran.
func (w *Worker) resumeIfRoom(lr *levelRun) {
	if lr == nil || !lr.paused.Load() || w.gate.heldAt(lr.level) > w.sub.BatchSize/2 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !lr.paused.Load() || w.state != stateRunning {
		return
	}
	w.pruneClosedLocked()
	if err := w.startLoopsLocked(lr); err != nil {
		// The watchdog tries again on its next tick.
		w.log.Warn("priority level not resumed", slog.String("consumer", lr.durable), slog.String("error", err.Error()))
		return
	}
	lr.paused.Store(false)
	w.log.Debug("priority level resumed", slog.String("consumer", lr.durable))
}

// pruneClosedLocked forgets loops drained earlier that have closed and
// finished their last message.
func (w *Worker) pruneClosedLocked() {
	w.loops = slices.DeleteFunc(w.loops, func(l *loop) bool {
		select {
		case <-l.cc.Closed():
			return l.cur.Load() == nil
		default:
			return false
		}
	})
}

// watchdog keeps the ack wait of every message the worker holds from
// running out: each tick, a message held by the gate or in a handler gets
// a progress ack unless the server heard of it since the last tick. So at
// most about one tick (AckWait/4) passes between the server hearing of a
// message, while the worker holds it. It also resumes paused levels a
// failed restart left behind.
func (w *Worker) watchdog() {
	defer close(w.wdDone)
	t := time.NewTicker(max(w.sub.AckWait/4, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-w.wdQuit:
			return
		case <-t.C:
			now := w.ticks.Add(1)
			w.mu.Lock()
			running := make([]*Message, 0, len(w.slots)+len(w.loops))
			for _, f := range w.slots {
				running = append(running, f.cur.Load())
			}
			for _, l := range w.loops {
				running = append(running, l.cur.Load())
			}
			w.mu.Unlock()
			for _, m := range append(running, w.gate.heldMessages()...) {
				if m != nil && m.pinged.Load() < now {
					w.keepAlive(m, now)
				}
			}
			for _, lr := range w.levels {
				w.resumeIfRoom(lr)
			}
		}
	}
}

func (w *Worker) keepAlive(m *Message, tick uint64) {
	m.pinged.Store(tick)
	if err := m.InProgress(); err != nil {
		w.log.Debug("progress ack", slog.String("error", err.Error()))
	}
}
