package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// directGets multiplexes batched direct-get replies over one wildcard
// inbox subscription. A subscription per read (as a generic multi-reply
// request does) costs a SUB and an UNSUB round of the server's interest
// graph on every aggregate load; measured, that was most of the cost of
// loading a small aggregate under load.
type directGets struct {
	nc     *nats.Conn
	api    string // "$JS.API." or a domain's prefix
	prefix string // reply subjects are prefix + token
	// timeout bounds a page read under a context without deadline, as
	// every other JetStream call is bounded.
	timeout time.Duration

	mu      sync.Mutex
	sub     *nats.Subscription
	waiting map[string]chan *nats.Msg
	next    uint64
	// gone is closed when the connection closes (or the inbox is
	// removed): no reply can arrive any more.
	gone   chan struct{}
	status chan nats.Status
}

func newDirectGets(js jetstream.JetStream) *directGets {
	api := apiPrefix(js)
	timeout := js.Options().DefaultTimeout
	if timeout <= 0 {
		timeout = defaultDirectGetTimeout
	}
	return &directGets{nc: js.Conn(), api: api, prefix: js.Conn().NewRespInbox() + ".", timeout: timeout, waiting: map[string]chan *nats.Msg{}}
}

// defaultDirectGetTimeout is JetStream's default API timeout.
const defaultDirectGetTimeout = 5 * time.Second

// directGetRequest is the server's batched direct get request.
type directGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	Batch   int    `json:"batch,omitempty"`
	// MaxBytes bounds what the server sends before it ends the batch
	// early (default: its max pending).
	MaxBytes int `json:"max_bytes,omitempty"`
	// NoHeaders asks for bodies only: the server then neither copies the
	// stored headers nor adds its own (sequence, subject, time) to each
	// message, which is most of what a batch costs it and the client.
	NoHeaders bool `json:"no_hdr,omitempty"`
}

// bodiesMaxBytes is the MaxBytes of a request of bodies only: a batch of
// bodies says neither how many messages remain nor why it ended, so the
// reader must know the byte bound to tell a batch cut short by it.
const bodiesMaxBytes = 64 << 20

// storedHeaderBound bounds the stored headers of a commit (its id and
// expectation, about 100 bytes), which the server counts against MaxBytes
// although it does not send them.
const storedHeaderBound = 4096

// request sends a batched direct get and returns the channel its replies
// arrive on and a channel closed once none can arrive any more; done must
// be called when the caller stops reading.
func (d *directGets) request(stream string, req directGetRequest) (<-chan *nats.Msg, <-chan struct{}, func(), error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, nil, nil, err
	}
	// Room for every reply (the batch and the end-of-batch marker), so the
	// subscription's callback never blocks on a slow reader.
	ch := make(chan *nats.Msg, req.Batch+2)
	d.mu.Lock()
	if d.sub == nil {
		if err := d.subscribeLocked(); err != nil {
			d.mu.Unlock()
			return nil, nil, nil, fmt.Errorf("streams: direct get inbox: %w", err)
		}
	}
	d.next++
	token := strconv.FormatUint(d.next, 36)
	d.waiting[token] = ch
	gone := d.gone
	d.mu.Unlock()
	done := func() {
		d.mu.Lock()
		delete(d.waiting, token)
		d.mu.Unlock()
	}
	if err := d.nc.PublishRequest(d.api+"DIRECT.GET."+stream, d.prefix+token, body); err != nil {
		done()
		return nil, nil, nil, err
	}
	return ch, gone, done, nil
}

// subscribeLocked creates the inbox subscription and the watch that closes
// gone with the connection. d.mu is held.
func (d *directGets) subscribeLocked() error {
	sub, err := d.nc.Subscribe(d.prefix+"*", d.deliver)
	if err != nil {
		return err
	}
	// Unlimited pending: the channels of request bound what is buffered.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return err
	}
	status, gone := d.nc.StatusChanged(nats.CLOSED), make(chan struct{})
	// Ends when the connection closes or close removes the listener.
	go func() {
		<-status
		close(gone)
	}()
	if d.nc.IsClosed() {
		// Closed before the listener was registered: no event will come.
		d.nc.RemoveStatusListener(status)
	}
	d.sub, d.status, d.gone = sub, status, gone
	return nil
}

func (d *directGets) deliver(msg *nats.Msg) {
	token := msg.Subject[len(d.prefix):]
	d.mu.Lock()
	ch := d.waiting[token]
	d.mu.Unlock()
	if ch == nil {
		return // the reader gave up (context cancelled)
	}
	select {
	case ch <- msg:
	default:
		// More replies than asked for cannot happen; never block the
		// connection's dispatcher if it does.
	}
}

// close removes the inbox subscription.
func (d *directGets) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sub == nil {
		return nil
	}
	err := d.sub.Unsubscribe()
	d.nc.RemoveStatusListener(d.status)
	d.sub, d.status = nil, nil
	return err
}

// errNoMessages marks a direct get that matched nothing.
var errNoMessages = errors.New("no messages")

// storedMsg is one message of a batched direct get reply. A reply of
// bodies only (NoHeaders) has its data alone: sequence, pending and
// subject are zero.
type storedMsg struct {
	subject  string
	sequence uint64
	pending  uint64
	header   nats.Header
	data     []byte
}

// endOfBatch is what the server's end-of-batch reply says: the sequence of
// the last message it sent, and how many matching messages remain.
type endOfBatch struct {
	last, pending uint64
}

// readReply interprets one reply: a message, the end of the batch (nil and
// what it says), or an error. noHeaders says the request asked for bodies
// only.
func readReply(msg *nats.Msg, noHeaders bool) (*storedMsg, *endOfBatch, error) {
	if len(msg.Data) == 0 && msg.Header != nil {
		switch status := msg.Header.Get("Status"); status {
		case "":
		case "204": // end of batch
			eob := &endOfBatch{}
			eob.last, _ = strconv.ParseUint(msg.Header.Get(headerLastSequence), 10, 64)
			eob.pending, _ = strconv.ParseUint(msg.Header.Get(headerNumPending), 10, 64)
			return nil, eob, nil
		case "404":
			return nil, nil, errNoMessages
		default:
			return nil, nil, fmt.Errorf("streams: direct get: status %s %s", status, msg.Header.Get("Description"))
		}
	}
	if noHeaders {
		return &storedMsg{data: msg.Data}, nil, nil
	}
	seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return nil, nil, fmt.Errorf("streams: direct get reply without a valid sequence (is AllowDirect on?): %q", msg.Header.Get(jetstream.SequenceHeader))
	}
	pending, _ := strconv.ParseUint(msg.Header.Get(headerNumPending), 10, 64)
	return &storedMsg{
		subject: msg.Header.Get(jetstream.SubjectHeader), sequence: seq, pending: pending,
		header: msg.Header, data: msg.Data,
	}, nil, nil
}

// headerLastSequence, on the end-of-batch reply, is the sequence of the
// last message the batch sent.
const headerLastSequence = "Nats-Last-Sequence"

// page reads one batch of up to n messages matching filter from seq on and
// calls each for every message in order. It reports whether more matching
// messages remain after the last one delivered.
//
// With noHeaders each message is its body alone, and last is the end of
// batch's word for the sequence of the last message sent (0 when each
// stopped the page early).
func (d *directGets) page(ctx context.Context, stream, filter string, seq uint64, n int, noHeaders bool, each func(*storedMsg) bool) (more bool, last uint64, err error) {
	var idle *time.Timer
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		// A reply lost to a reconnect, a permission or a server error
		// would otherwise be awaited forever. The bound is on waiting for
		// the server, not on the caller's handling of each event.
		idle = time.NewTimer(d.timeout)
		defer idle.Stop()
		timeout = idle.C
	}
	req := directGetRequest{Seq: seq, NextFor: filter, Batch: n}
	if noHeaders {
		req.NoHeaders, req.MaxBytes = true, bodiesMaxBytes
	}
	ch, gone, done, err := d.request(stream, req)
	if err != nil {
		return false, 0, err
	}
	defer done()
	var count, sent int
	for {
		select {
		case <-ctx.Done():
			return false, last, ctx.Err()
		case <-timeout:
			return false, last, fmt.Errorf("direct get: no reply within %s (JetStream's default timeout, as the context has no deadline): %w", d.timeout, context.DeadlineExceeded)
		case <-gone:
			return false, last, fmt.Errorf("direct get: %w", nats.ErrConnectionClosed)
		case msg := <-ch:
			sm, eob, err := readReply(msg, noHeaders)
			switch {
			case errors.Is(err, errNoMessages):
				return false, last, nil
			case err != nil:
				return false, last, err
			case eob != nil && noHeaders:
				// A full batch may have more after it, and so may one the
				// byte bound could have cut (then the server counts the
				// stored headers it did not send).
				return count == n || sent+count*(len(filter)+storedHeaderBound) >= bodiesMaxBytes, eob.last, nil
			case eob != nil:
				return more, last, nil
			}
			count++
			sent += len(sm.data)
			last, more = sm.sequence, sm.pending > 0
			if !each(sm) {
				return false, last, nil
			}
			if idle != nil {
				idle.Reset(d.timeout)
			}
		}
	}
}
