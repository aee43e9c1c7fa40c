package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/wire"
)

// The users example's wire contract, which the workload speaks: the
// commands `jetflow serve` answers for it (README, "Aggregates and
// commands").
const (
	cmdCreate = "user.create"
	cmdUpdate = "user.update"
)

// appliedEarlier is what the command service's 409 for a resend says when
// it finds the command's events stored but not its result (aggregates'
// ErrAlreadyApplied): the one 409 that means "applied", told by its text
// since it shares the code conflict with refusals.
const appliedEarlier = "was applied earlier"

// Topic is the topic the worker consumes.
const Topic = "chaos"

// Bounds of one command as the workload's clients send it.
const (
	// attemptTimeout bounds one request; serve runs with a shorter
	// commands.timeout (serveCommandTimeout) so that it answers 504
	// itself when it can.
	attemptTimeout      = 3 * time.Second
	serveCommandTimeout = 2 * time.Second
	// maxAttempts is how often a client sends a command (same
	// Jetflow-Command-Id) before it gives up and calls the outcome
	// unknown.
	maxAttempts = 8
	// commandsPerAggregate stays below the 64 results an aggregate
	// remembers, so that every resend, however late, is recognised by its
	// command id and not only within the stream's duplicate window.
	commandsPerAggregate = 24
)

// workload is the traffic of one phase: clients sending commands, racers
// sending pairs of conflicting commands, and a publisher feeding the
// worker's topic.
type workload struct {
	run     string // prefix of every id of this phase
	hist    *History
	conns   []*nats.Conn // one per client, racers use two
	pubConn *nats.Conn
	clients int
	racers  int
	limit   <-chan struct{} // a token per command; nil: no limit
	topicHz int
	log     *slog.Logger

	stop chan struct{} // closed when the phase's faults are over
	wg   sync.WaitGroup
}

// stopped reports whether the phase asked the workload to stop.
func (w *workload) stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// start runs every client, racer and the publisher until Stop.
func (w *workload) start(ctx context.Context, seed uint64) {
	for i := range w.clients {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		w.wg.Go(func() { w.client(ctx, i, rng) })
	}
	for i := range w.racers {
		a, b := w.conns[(w.clients+2*i)%len(w.conns)], w.conns[(w.clients+2*i+1)%len(w.conns)]
		w.wg.Go(func() { w.racer(ctx, i, a, b) })
	}
	if w.topicHz > 0 {
		w.wg.Go(func() { w.publisher(ctx) })
	}
}

// Stop asks everything to stop and waits: a command in flight finishes its
// current attempt; its outcome is unknown if that attempt fails.
func (w *workload) Stop() {
	close(w.stop)
	w.wg.Wait()
}

// wait takes a token of the rate limit; false once stopped.
func (w *workload) wait(ctx context.Context) bool {
	if w.limit == nil {
		return !w.stopped() && ctx.Err() == nil
	}
	select {
	case <-w.limit:
		return !w.stopped()
	case <-w.stop:
		return false
	case <-ctx.Done():
		return false
	}
}

func (w *workload) client(ctx context.Context, i int, rng *rand.Rand) {
	c := client.New(w.conns[i%len(w.conns)])
	user, n, seq := "", 0, 0
	for w.wait(ctx) {
		seq++
		id := fmt.Sprintf("%s-c%d-%d", w.run, i, seq)
		if user == "" || n >= commandsPerAggregate {
			user, n = fmt.Sprintf("%s-c%d-u%d", w.run, i, seq), 0
			cmd := w.newCommand(id, cmdCreate, user, createBody(user, id), nil, 0)
			w.send(ctx, c, cmd)
			// An unknown create may still have been applied: the updates
			// go on, and a 404 for them is an answer too.
			if cmd.Outcome == Refused {
				user = ""
			}
			n++
			continue
		}
		// A new email per command: a command applied twice would show as
		// its event twice (a late re-run writes its email again).
		w.send(ctx, c, w.newCommand(id, cmdUpdate, user, updateBody(user, id), nil, 0))
		n++
		if rng.IntN(50) == 0 {
			// Now and then a client moves on early, as real ones do.
			user = ""
		}
	}
}

// racer creates a user with two racing creates of the same id, then
// sends pairs of updates with the same expected version from two
// connections (two nodes, likely two serve instances): exactly one of
// each pair may win.
func (w *workload) racer(ctx context.Context, i int, connA, connB *nats.Conn) {
	a, b := client.New(connA), client.New(connB)
	seq, user := 0, ""
	var version uint64
	for w.wait(ctx) {
		pair := w.hist.newPair()
		seq++
		idA, idB := fmt.Sprintf("%s-r%d-%da", w.run, i, seq), fmt.Sprintf("%s-r%d-%db", w.run, i, seq)
		var ca, cb *Command
		if user == "" || version >= commandsPerAggregate {
			user, version = fmt.Sprintf("%s-r%d-u%d", w.run, i, seq), 0
			zero := uint64(0)
			ca = w.newCommand(idA, cmdCreate, user, createBody(user, idA), &zero, pair)
			cb = w.newCommand(idB, cmdCreate, user, createBody(user, idB), &zero, pair)
		} else {
			v := version
			ca = w.newCommand(idA, cmdUpdate, user, updateBody(user, idA), &v, pair)
			cb = w.newCommand(idB, cmdUpdate, user, updateBody(user, idB), &v, pair)
		}
		var wg sync.WaitGroup
		wg.Go(func() { w.send(ctx, a, ca) })
		wg.Go(func() { w.send(ctx, b, cb) })
		wg.Wait()
		switch {
		case ca.Outcome == Acked && !(cb.Outcome == Acked && cb.Reply.Version > ca.Reply.Version):
			version = ca.Reply.Version
		case cb.Outcome == Acked:
			version = cb.Reply.Version
		default:
			// No winner known: the version is not either; race on a new user.
			user = ""
		}
	}
}

func (w *workload) newCommand(id, name, aggregate string, body []byte, expected *uint64, pair int) *Command {
	c := &Command{ID: id, Name: name, Aggregate: aggregate, Body: body, Expected: expected, Pair: pair}
	w.hist.addCommand(c)
	return c
}

func createBody(user, cmdID string) []byte {
	b, _ := json.Marshal(map[string]string{"id": user, "username": "u" + strconv.FormatUint(hash(user), 36), "email": cmdID + "@chaos.test"})
	return b
}

func updateBody(user, cmdID string) []byte {
	b, _ := json.Marshal(map[string]string{"id": user, "email": cmdID + "@chaos.test"})
	return b
}

// hash is FNV-1a: a short username (3 to 32 characters) derived from a long id.
func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// send sends cmd until it gets an answer that says what happened, at most
// maxAttempts times, and not again once the workload stops.
func (w *workload) send(ctx context.Context, c *client.Client, cmd *Command) {
	backoff := 100 * time.Millisecond
	for {
		cmd.Attempts++
		outcome, reply, status, msg, cause := attempt(ctx, c, cmd)
		switch outcome {
		case Acked:
			cmd.Outcome, cmd.Reply = Acked, reply
			w.hist.success(time.Now())
			return
		case Refused:
			cmd.Outcome, cmd.Status, cmd.Message = Refused, status, msg
			return
		case AppliedEarlier:
			cmd.Outcome, cmd.Status, cmd.Message = AppliedEarlier, status, msg
			w.hist.success(time.Now())
			return
		}
		w.hist.failedAttempt(cause)
		if cmd.Attempts >= maxAttempts || w.stopped() || ctx.Err() != nil {
			cmd.Outcome, cmd.Message = Unknown, msg
			return
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, time.Second)
	}
}

// attempt sends cmd once. A 4xx answer is a refusal; 5xx, a timeout, no
// responders or a broken connection leave the outcome unknown (cause names
// which).
func attempt(ctx context.Context, c *client.Client, cmd *Command) (Outcome, wire.CommandReply, int, string, string) {
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	opts := []client.CommandOption{client.CommandID(cmd.ID), client.CorrelationID(cmd.ID)}
	if cmd.Expected != nil {
		opts = append(opts, client.ExpectedVersion(*cmd.Expected))
	}
	reply, err := c.Send(actx, cmd.Name, json.RawMessage(cmd.Body), opts...)
	if err == nil {
		return Acked, reply, 0, "", ""
	}
	var we *wire.Error
	switch {
	case errors.As(err, &we) && we.Status == wire.StatusConflict && strings.Contains(we.Message, appliedEarlier):
		return AppliedEarlier, reply, we.Status, we.Message, ""
	case errors.As(err, &we) && we.Status >= 400 && we.Status < 500:
		return Refused, reply, we.Status, we.Message, ""
	case errors.As(err, &we):
		return Unknown, reply, we.Status, we.Message, strconv.Itoa(we.Status)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return Unknown, reply, 0, err.Error(), "timeout"
	case errors.Is(err, client.ErrNoService):
		return Unknown, reply, 0, err.Error(), "no responders"
	}
	return Unknown, reply, 0, err.Error(), "connection"
}

// publisher publishes topicHz messages a second, each retried with its
// message id until acked (the topic deduplicates a resend).
func (w *workload) publisher(ctx context.Context) {
	js, err := jetstream.New(w.pubConn)
	if err != nil {
		w.log.Error("chaos: publisher", "error", err)
		return
	}
	pub := consumers.NewPublisher(js)
	tick := time.NewTicker(time.Second / time.Duration(w.topicHz))
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		p := &Publish{ID: fmt.Sprintf("%s-m%d", w.run, n)}
		w.hist.addPublish(p)
		p.Outcome, _ = publishOnce(ctx, pub, p, func() bool { return w.stopped() })
	}
}

// publishOnce publishes p until acked, at most maxAttempts times (fewer
// once giveUp says so); the bool is the ack's Duplicate: the message had
// been stored already.
func publishOnce(ctx context.Context, pub *consumers.Publisher, p *Publish, giveUp func() bool) (Outcome, bool) {
	body, _ := json.Marshal(map[string]string{"id": p.ID})
	backoff := 100 * time.Millisecond
	for {
		p.Attempts++
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		ack, err := pub.Publish(actx, Topic, consumers.Outgoing{Data: body, MsgID: p.ID})
		cancel()
		if err == nil {
			return Acked, ack.Duplicate
		}
		if p.Attempts >= maxAttempts || giveUp() || ctx.Err() != nil {
			return Unknown, false
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, time.Second)
	}
}

// Webhook is the HTTP endpoint the worker posts the topic's messages to:
// it counts the deliveries of each message id.
type Webhook struct {
	srv *http.Server
	ln  net.Listener

	mu         sync.Mutex
	deliveries map[string]int
	done       chan struct{}
}

// StartWebhook listens on a free loopback port; Close stops it.
func StartWebhook() (*Webhook, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("chaos: webhook listen: %w", err)
	}
	h := &Webhook{ln: ln, deliveries: map[string]int{}, done: make(chan struct{})}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(h.done)
		_ = h.srv.Serve(ln)
	}()
	return h, nil
}

// URL is where the worker posts.
func (h *Webhook) URL() string { return "http://" + h.ln.Addr().String() + "/hook" }

func (h *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var msg struct {
		ID string `json:"id"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &msg) != nil || msg.ID == "" {
		// Not a message of the workload: say so, the worker dead-letters it.
		http.Error(rw, "not a chaos message", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.deliveries[msg.ID]++
	h.mu.Unlock()
	rw.WriteHeader(http.StatusNoContent)
}

// Deliveries is how often the message id was delivered.
func (h *Webhook) Deliveries(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.deliveries[id]
}

// Close stops the server.
func (h *Webhook) Close() error {
	err := h.srv.Close()
	<-h.done
	return err
}

// rateLimit feeds a token every 1/perSecond until ctx ends; nil for 0.
func rateLimit(ctx context.Context, perSecond int) <-chan struct{} {
	if perSecond <= 0 {
		return nil
	}
	ch := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case ch <- struct{}{}:
				default: // nobody waiting: no burst builds up
				}
			}
		}
	}()
	return ch
}
