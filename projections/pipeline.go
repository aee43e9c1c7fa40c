package projections

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/natsext"

	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// Wire names the runner writes into read model buckets.
const (
	// HeaderSequence carries, on every record's KV message, the stream
	// sequence of the last event applied to the record.
	HeaderSequence = "Jetflow-Projection-Sequence"
	// CheckpointKey is the record holding {"sequence":S}: every event up to
	// stream sequence S is applied and stored before it in the bucket.
	CheckpointKey     = reservedKeyPrefix + "checkpoint"
	reservedKeyPrefix = "_jetflow."
	kvOperationHeader = "KV-Operation"
	kvOperationDelete = "DEL"
	fetchChunk        = 256
)

// errCaughtUp ends a rebuild session: everything in the stream is applied.
var errCaughtUp = errors.New("projections: caught up")

// pipeline keeps one generation's bucket current from its consumer. One
// session at a time; the pump goroutine applies, the confirmer acks.
type pipeline struct {
	p      Projection
	cfg    Config
	gen    Generation
	js     jetstream.JetStream // own context: its async window bounds the writes in flight
	track  *tracker
	log    *slog.Logger
	skips  atomic.Pointer[map[uint64]bool]
	hard   <-chan struct{} // closed when in-flight work must be abandoned
	kvPre  string
	kvStrm string
	cache  *recordCache
	codec  recordCodec // set when the handler works on decoded records
	fresh  bool        // nothing but this session wrote the bucket: a record not cached does not exist

	// Every write to the bucket carries the bucket stream's sequence it
	// must follow (Nats-Expected-Last-Sequence): writes are numbered in
	// the order they are sent, from the stream's last sequence at the
	// session's start. A write that lands late — held in a partitioned
	// route, or sent by a process that lost the lease — finds the stream
	// moved on and is refused instead of putting an old value over a newer
	// one; the writes after a refused or lost one are refused too, and the
	// session starts again from the checkpoint.
	wmu  sync.Mutex
	wseq uint64 // the sequence the next write must follow

	delivered atomic.Uint64
	confirmed atomic.Uint64 // events confirmed (count)
	ackedSeq  atomic.Uint64 // stream sequence of the last confirmed event
	pending   atomic.Uint64 // NumPending of the last event received
}

func newPipeline(nc *nats.Conn, p Projection, cfg Config, gen Generation, track *tracker, hard <-chan struct{}) (*pipeline, error) {
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxInflight),
		jetstream.WithPublishAsyncTimeout(cfg.WriteTimeout))
	if err != nil {
		return nil, err
	}
	pl := &pipeline{
		p: p, cfg: cfg, gen: gen, js: js, track: track, hard: hard,
		log:    cfg.logger.With("projection", p.Name, "generation", gen.Number),
		kvPre:  "$KV." + gen.Bucket + ".",
		kvStrm: "KV_" + gen.Bucket,
		cache:  newRecordCache(cfg.CacheSize),
	}
	pl.codec, _ = p.Handler.(recordCodec)
	pl.setSkips(nil)
	return pl, nil
}

func (pl *pipeline) setSkips(seqs []uint64) {
	m := make(map[uint64]bool, len(seqs))
	for _, s := range seqs {
		m[s] = true
	}
	pl.skips.Store(&m)
}

// BucketConfig is the definition of a generation's read model bucket.
func (c Config) BucketConfig(p Projection, g Generation) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      g.Bucket,
		Description: fmt.Sprintf("jetflow read model %s, generation %d", p.Name, g.Number),
		History:     1,
		Storage:     c.storage(),
		Replicas:    c.Streams.Replicas,
	}
}

// ConsumerConfig is the definition of a generation's durable consumer.
func (c Config) ConsumerConfig(p Projection, g Generation) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        g.Consumer,
		Description:    fmt.Sprintf("jetflow projection %s, generation %d", p.Name, g.Number),
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		FilterSubjects: p.Subjects,
		// Redelivery is driven by the runner (a reset to the ack floor on
		// every start), never by the server: a redelivery out of order
		// could apply an event after a later one of the same record.
		AckWait:       5 * time.Minute,
		MaxDeliver:    -1,
		MaxAckPending: max(4*c.MaxInflight, 4*c.CatchUpBatch, 10_000),
		Replicas:      c.Streams.Replicas,
	}
}

// provision creates the generation's bucket and consumer when missing;
// each is bounded by WriteTimeout (an error is retried by the caller).
func (pl *pipeline) provision(ctx context.Context) error {
	if _, err := bounded(ctx, pl.cfg.WriteTimeout, func(ctx context.Context) (jetstream.KeyValue, error) {
		return streams.EnsureKeyValue(ctx, pl.js, pl.cfg.BucketConfig(pl.p, pl.gen))
	}, nil); err != nil {
		return err
	}
	if _, err := bounded(ctx, pl.cfg.WriteTimeout, func(ctx context.Context) (jetstream.Consumer, error) {
		return pl.js.CreateOrUpdateConsumer(ctx, pl.cfg.Streams.EventStream, pl.cfg.ConsumerConfig(pl.p, pl.gen))
	}, nil); err != nil {
		return fmt.Errorf("projections: consumer %s: %w", pl.gen.Consumer, err)
	}
	return nil
}

// batch is one group of events applied together: their writes are
// confirmed, then the events are acked, in order.
type batch struct {
	msgs    []jetstream.Msg
	dirty   []string // keys whose records changed, written once when the batch is sent
	writes  []jetstream.PubAckFuture
	last    uint64 // stream sequence of the last event
	skipped int    // already applied (idempotent replay)
	sent    time.Time
}

// item is one received event on its way through a batch.
type item struct {
	msg jetstream.Msg
	// evs are the commit's events, keys the record each changes ("" for
	// none): a commit is applied whole or not at all.
	evs     []streams.Event
	keys    []string
	seq     uint64
	pending uint64
	// err is why the commit cannot be applied, and errType the type of
	// the event it concerns ("" when the message did not decode).
	err     error
	errType string
}

// session resets the consumer to its ack floor and applies events until ctx
// ends (nil, after the in-flight writes are confirmed and acked), the
// handler fails (*FailedError), the pipeline breaks (another error), or —
// with untilCaughtUp — nothing is left to apply (errCaughtUp).
func (pl *pipeline) session(ctx context.Context, untilCaughtUp bool) error {
	stream := pl.cfg.Streams.EventStream
	// Acks of a previous session may still be on their way; a reset that
	// overtakes them only redelivers events the records already hold.
	timeout := pl.cfg.WriteTimeout
	if _, err := bounded(ctx, timeout, func(ctx context.Context) (*jetstream.ConsumerResetResponse, error) {
		return pl.js.ResetConsumer(ctx, stream, pl.gen.Consumer)
	}, nil); err != nil {
		return fmt.Errorf("projections: reset consumer %s to its ack floor: %w", pl.gen.Consumer, err)
	}
	cons, err := bounded(ctx, timeout, func(ctx context.Context) (jetstream.Consumer, error) {
		return pl.js.Consumer(ctx, stream, pl.gen.Consumer)
	}, nil)
	if err != nil {
		return fmt.Errorf("projections: consumer %s: %w", pl.gen.Consumer, err)
	}
	info := cons.CachedInfo()
	pl.ackedSeq.Store(info.AckFloor.Stream)
	pl.pending.Store(info.NumPending)
	pl.delivered.Store(0)
	pl.confirmed.Store(0)
	pl.track.setLag(info.NumPending)
	pl.track.applied(0, info.AckFloor.Stream, info.NumPending)
	if untilCaughtUp && info.NumPending == 0 {
		return errCaughtUp
	}
	pl.cache.reset()
	kvInfo, err := bounded(ctx, timeout, func(ctx context.Context) (jetstream.Stream, error) { return pl.js.Stream(ctx, pl.kvStrm) }, nil)
	if err != nil {
		return fmt.Errorf("projections: bucket %s: %w", pl.gen.Bucket, err)
	}
	pl.fresh = kvInfo.CachedInfo().State.Msgs == 0
	pl.wmu.Lock()
	pl.wseq = kvInfo.CachedInfo().State.LastSeq
	pl.wmu.Unlock()

	msgs := make(chan jetstream.Msg, 2*pl.cfg.CatchUpBatch)
	quit := make(chan struct{})
	consumeErr := make(chan error, 1)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-quit:
		}
	}, jetstream.PullMaxMessages(min(2*pl.cfg.CatchUpBatch, 8192)), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			select {
			case consumeErr <- fmt.Errorf("projections: consumer %s: %w", pl.gen.Consumer, err):
			default:
			}
			return
		}
		pl.log.Debug("consume", "error", err)
	}))
	if err != nil {
		return fmt.Errorf("projections: consume %s: %w", pl.gen.Consumer, err)
	}
	conf := newConfirmer(pl)
	go conf.run()
	defer func() {
		close(quit)
		cc.Stop()
	}()

	idle := time.NewTicker(time.Second)
	defer idle.Stop()
	// A window gathers batches while the consumer reports more pending (a
	// rebuild, a restart after downtime), up to CatchUpBatch events or
	// CatchUpWait: events of one record within it cost one write. A live
	// projection (nothing pending) writes each batch at once.
	var win *batch
	deadline := time.NewTimer(time.Hour)
	deadline.Stop()
	defer deadline.Stop()
	var deadlineC <-chan time.Time
	send := func() error {
		w := win
		win, deadlineC = nil, nil
		deadline.Stop()
		return pl.send(conf, w)
	}
	// A lost lease means another process consumes now: write and ack
	// nothing more, or an old value could land after its newer one.
	leaseLost := func() bool { return errors.Is(context.Cause(ctx), ErrLeaseLost) }
	abandon := func() error {
		cc.Stop()
		conf.abandon()
		return conf.finish(fmt.Errorf("%w: %w", errAbandoned, context.Cause(ctx)))
	}
	items := make([]item, 0, pl.cfg.MaxBatch)
	for {
		items = items[:0]
		select {
		case <-ctx.Done():
			if leaseLost() {
				return abandon()
			}
			return conf.finish(send())
		case err := <-conf.failed:
			return conf.finish(err)
		case err := <-consumeErr:
			return conf.finish(err)
		case <-deadlineC:
			if err := send(); err != nil {
				return conf.finish(err)
			}
			continue
		case m := <-msgs:
			items = append(items, item{msg: m})
		case <-idle.C:
			if untilCaughtUp && win == nil && conf.idle() {
				if done, err := pl.caughtUp(ctx, cons); err != nil || done {
					return conf.finish(orCaughtUp(err))
				}
			}
			continue
		}
	more:
		for len(items) < pl.cfg.MaxBatch {
			select {
			case m := <-msgs:
				items = append(items, item{msg: m})
			default:
				break more
			}
		}
		pl.delivered.Add(uint64(len(items)))
		if win == nil {
			win = pl.open()
			deadline.Reset(pl.cfg.CatchUpWait)
			deadlineC = deadline.C
		}
		failure := pl.apply(ctx, win, items)
		if leaseLost() {
			return abandon()
		}
		caughtUp := items[len(items)-1].pending == 0
		if failure != nil || caughtUp || len(win.msgs) >= pl.cfg.CatchUpBatch || ctx.Err() != nil {
			if err := send(); err != nil {
				return conf.finish(err)
			}
		}
		if failure != nil {
			return conf.finish(failure)
		}
		if win == nil && pl.cache.evict(pl.ackedSeq.Load()) {
			pl.fresh = false
		}
		if untilCaughtUp && caughtUp && len(msgs) == 0 {
			if err := conf.finish(nil); err != nil {
				return err
			}
			return errCaughtUp
		}
	}
}

// open starts a window: a batch the next events are applied into.
func (pl *pipeline) open() *batch {
	pl.cache.batch++
	return &batch{msgs: make([]jetstream.Msg, 0, pl.cfg.MaxBatch)}
}

// send publishes the writes of a window's changed records and hands the
// window to the confirmer, which acks its events once they are confirmed.
func (pl *pipeline) send(conf *confirmer, b *batch) error {
	if b == nil {
		return nil
	}
	b.sent = time.Now()
	for _, key := range b.dirty {
		rec, _ := pl.cache.get(key)
		if rec.value == nil && rec.decoded != nil {
			v, err := pl.codec.encodeRecord(rec.decoded)
			if err != nil {
				return fmt.Errorf("projections: encode record %s (event %d): %w", key, rec.seq, err)
			}
			rec.value = v
		}
		f, err := pl.write(key, rec)
		if err != nil {
			return fmt.Errorf("projections: write %s/%s: %w", pl.gen.Bucket, key, err)
		}
		b.writes = append(b.writes, f)
	}
	if len(b.msgs) == 0 {
		return nil
	}
	conf.inflight.Add(1)
	select {
	case conf.in <- b:
		return nil
	case err := <-conf.failed:
		return err
	case <-pl.hard:
		return errAbandoned
	}
}

func orCaughtUp(err error) error {
	if err == nil {
		return errCaughtUp
	}
	return err
}

// caughtUp asks the server whether anything is left to deliver or ack.
func (pl *pipeline) caughtUp(ctx context.Context, cons jetstream.Consumer) (bool, error) {
	info, err := cons.Info(ctx)
	if err != nil {
		return false, err
	}
	return info.NumPending == 0 && info.NumAckPending == 0, nil
}

// apply decodes events and applies them into the window b (its changed
// records join b.dirty). On a handler failure b keeps the events before
// the failing one and a *FailedError is returned; any other error breaks
// the pipeline.
func (pl *pipeline) apply(ctx context.Context, b *batch, items []item) error {
	var missing []string
	for i := range items {
		it := &items[i]
		md, err := it.msg.Metadata()
		if err != nil {
			// Without metadata there is no sequence to name: a broken
			// delivery, not a bad event. Start over from the checkpoint.
			return fmt.Errorf("projections: message without JetStream metadata on %s: %w", it.msg.Subject(), err)
		}
		it.seq, it.pending = md.Sequence.Stream, md.NumPending
		pl.decode(it)
		if it.err == nil && !pl.fresh {
			for _, key := range it.keys {
				if _, ok := pl.cache.get(key); key != "" && !ok {
					missing = append(missing, key)
				}
			}
		}
	}
	pl.pending.Store(items[len(items)-1].pending)
	if len(missing) > 0 {
		if err := pl.fetch(ctx, missing); err != nil {
			return err
		}
	}
	skips := *pl.skips.Load()
	var failure error
	add := func(it *item) {
		b.msgs = append(b.msgs, it.msg)
		b.last = it.seq
	}
	for i := range items {
		it := &items[i]
		if skips[it.seq] {
			typ := it.errType
			if len(it.evs) > 0 {
				typ = it.evs[0].Type
			}
			pl.log.Warn("event skipped on an operator's request", "sequence", it.seq, "type", typ, "events", max(len(it.evs), 1))
			pl.track.skipped(it.seq)
			pl.cfg.metrics.EventsSkipped(pl.p.Name, "operator", max(len(it.evs), 1))
			add(it)
			continue
		}
		if it.err != nil {
			// A malformed event or key fails the same way every time.
			failure = pl.failed(it, it.errType, it.err)
			break
		}
		skipped, err := pl.applyCommit(ctx, b, it)
		if err != nil {
			if ctx.Err() != nil {
				// Stopping: the commit stays unacked and comes back first.
				break
			}
			failure = err
			break
		}
		b.skipped += skipped
		add(it)
	}
	return failure
}

// decode fills it's events and keys from its message, or its error.
func (pl *pipeline) decode(it *item) {
	it.evs, it.err = streams.DecodeEvents(it.msg.Subject(), it.msg.Headers(), it.msg.Data(), it.seq)
	if it.err != nil {
		it.errType = it.msg.Headers().Get(wire.HeaderEventType) // a message of the format before commits
		return
	}
	it.keys = make([]string, len(it.evs))
	for i := range it.evs {
		ev := &it.evs[i]
		if pl.cfg.Upcasters != nil {
			if it.err = pl.cfg.Upcasters.Apply(ev); it.err != nil {
				it.errType = ev.Type
				return
			}
		}
		key, err := pl.p.Handler.Key(*ev)
		if err == nil && key != "" && !validRecordKey(key) {
			err = fmt.Errorf("key %q is not a valid record key (KV key characters, not starting with %q); build keys with projections.Key", key, reservedKeyPrefix)
		}
		if err != nil {
			it.err, it.errType = err, ev.Type
			return
		}
		it.keys[i] = key
	}
}

// staged is a record's new value while its commit is applied: the cache
// takes it only once every event of the commit is applied, so a handler
// that fails halfway leaves no part of the commit behind.
type staged struct {
	value   []byte
	decoded any
}

// applyCommit runs the handler (with retries) on each event of the commit
// and caches the records they produced, joining them to b's writes; it
// reports the events skipped as already applied. A record at the commit's
// sequence or later has it already: its events are skipped.
func (pl *pipeline) applyCommit(ctx context.Context, b *batch, it *item) (skipped int, err error) {
	var order []string
	changes := map[string]*staged{}
	applied := map[string]bool{} // records that already hold the commit
	for i, ev := range it.evs {
		key := it.keys[i]
		if key == "" {
			continue
		}
		if applied[key] {
			skipped++
			continue
		}
		cur, ok := changes[key]
		if !ok {
			rec, _ := pl.cache.get(key)
			if rec != nil && rec.seq >= it.seq {
				applied[key] = true
				skipped++
				continue
			}
			if cur, err = pl.current(rec); err != nil {
				return 0, pl.failed(it, ev.Type, err)
			}
			changes[key] = cur
			order = append(order, key)
		}
		if err := pl.evolve(ctx, ev, cur); err != nil {
			return 0, pl.failed(it, ev.Type, err)
		}
	}
	for _, key := range order {
		var changed bool
		if pl.codec == nil {
			changed = pl.cache.set(key, changes[key].value, it.seq)
		} else {
			changed = pl.cache.setDecoded(key, changes[key].decoded, it.seq)
		}
		if changed {
			b.dirty = append(b.dirty, key)
		}
	}
	return skipped, nil
}

// current is a record's value as the handler starts from.
func (pl *pipeline) current(rec *record) (*staged, error) {
	if rec == nil {
		return &staged{}, nil
	}
	if pl.codec == nil || rec.decoded != nil || rec.value == nil {
		return &staged{value: rec.value, decoded: rec.decoded}, nil
	}
	d, err := pl.codec.decodeRecord(rec.value)
	if err != nil {
		return nil, err
	}
	return &staged{decoded: d}, nil
}

// evolve runs the handler on one event, changing cur.
func (pl *pipeline) evolve(ctx context.Context, ev streams.Event, cur *staged) error {
	if pl.codec == nil {
		next, err := retry(ctx, pl, ev, func() ([]byte, error) { return pl.p.Handler.Apply(ctx, ev, cur.value) })
		if err == nil {
			cur.value = next
		}
		return err
	}
	next, err := retry(ctx, pl, ev, func() (any, error) { return pl.codec.evolveRecord(ctx, ev, cur.decoded) })
	if err == nil {
		cur.decoded = next
	}
	return err
}

func (pl *pipeline) failed(it *item, eventType string, err error) error {
	f := Failure{Sequence: it.seq, Type: eventType, Subject: it.msg.Subject(), Error: err.Error(), At: time.Now().UTC()}
	return &FailedError{Projection: pl.p.Name, Failure: f}
}

// write publishes a record's value (or its deletion) with the sequence of
// the event that produced it.
func (pl *pipeline) write(key string, rec *record) (jetstream.PubAckFuture, error) {
	msg := &nats.Msg{Subject: pl.kvPre + key, Data: rec.value, Header: nats.Header{HeaderSequence: {strconv.FormatUint(rec.seq, 10)}}}
	if rec.value == nil {
		msg.Header[kvOperationHeader] = []string{kvOperationDelete}
	}
	return pl.publishAsync(msg)
}

// publishAsync publishes msg asynchronously, waiting up to WriteTimeout for
// room in the async window, or until a hard stop. (Without publish options
// the client's fast path is taken; a full window then fails after a short
// stall, and the message was not sent: try again.)
func (pl *pipeline) publishAsync(msg *nats.Msg) (jetstream.PubAckFuture, error) {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	pl.wmu.Lock()
	defer pl.wmu.Unlock()
	msg.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(pl.wseq, 10))
	deadline := time.Now().Add(pl.cfg.WriteTimeout)
	for {
		f, err := pl.js.PublishMsgAsync(msg)
		if err == nil {
			pl.wseq++
		}
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) || time.Now().After(deadline) {
			return f, err
		}
		select {
		case <-pl.hard:
			return nil, errAbandoned
		default:
		}
	}
}

// retry calls the handler, retrying with backoff; a panic is an error.
func retry[T any](ctx context.Context, pl *pipeline, ev streams.Event, call func() (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		next, err := protect(call)
		if err == nil {
			return next, nil
		}
		pl.cfg.metrics.HandlerFailed(pl.p.Name, ev.Type)
		if attempt >= pl.cfg.Retries {
			return next, err
		}
		delay := pl.cfg.backoff(attempt)
		pl.log.Warn("handler failed, retrying", "sequence", ev.Sequence, "type", ev.Type, "attempt", attempt+1, "retry_in", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return next, ctx.Err()
		case <-t.C:
		}
	}
}

func protect[T any](call func() (T, error)) (out T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return call()
}

// fetch reads the records of keys from the bucket in batched direct gets
// (one request per fetchChunk keys) into the cache.
func (pl *pipeline) fetch(ctx context.Context, keys []string) error {
	seen := make(map[string]bool, len(keys))
	subjects := make([]string, 0, min(len(keys), fetchChunk))
	flush := func() error {
		if len(subjects) == 0 {
			return nil
		}
		defer func() { subjects = subjects[:0] }()
		// The server ends a batch early once it has sent enough bytes: a
		// record not returned is asked again, and absent only when a
		// request returns none of those asked.
		asked := subjects
		for len(asked) > 0 {
			found, err := pl.fetchChunk(ctx, asked)
			if err != nil {
				return err
			}
			var missing []string
			for _, s := range asked {
				if !found[s[len(pl.kvPre):]] {
					missing = append(missing, s)
				}
			}
			if len(found) == 0 {
				for _, s := range missing {
					pl.cache.load(s[len(pl.kvPre):], nil, 0)
				}
				return nil
			}
			asked = missing
		}
		return nil
	}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		subjects = append(subjects, pl.kvPre+k)
		if len(subjects) == fetchChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// fetchMaxBytes bounds one batched read of records: the server ends the
// batch there (the rest is asked again), rather than at its max_pending,
// which can be what its client may buffer and get it disconnected.
const fetchMaxBytes = 1 << 20

// fetchChunk reads the latest message of each subject in one batched
// direct get and caches those it returns. A reply that ends without the
// server's end-of-batch (a dropped connection, a timeout) is an error: the
// records it left out are not known to be absent.
func (pl *pipeline) fetchChunk(ctx context.Context, subjects []string) (map[string]bool, error) {
	found := make(map[string]bool, len(subjects))
	ctx, cancel := context.WithTimeout(ctx, pl.cfg.WriteTimeout)
	defer cancel()
	req, _ := json.Marshal(struct {
		MultiLast []string `json:"multi_last"`
		Batch     int      `json:"batch"`
		MaxBytes  int      `json:"max_bytes"`
	}{subjects, len(subjects), fetchMaxBytes})
	var status string
	endOfBatch := func(m *nats.Msg) bool {
		if len(m.Data) == 0 && m.Header.Get("Status") != "" {
			status = m.Header.Get("Status") + " " + m.Header.Get("Description")
			return true
		}
		return false
	}
	api := pl.js.Options().APIPrefix
	if api == "" {
		api = jetstream.DefaultAPIPrefix
	}
	replies, err := natsext.RequestMany(ctx, pl.js.Conn(), api+"DIRECT.GET."+pl.kvStrm, req, natsext.RequestManySentinel(endOfBatch))
	if err != nil {
		return nil, fmt.Errorf("projections: read records of %s: %w", pl.gen.Bucket, err)
	}
	for m, err := range replies {
		if err != nil {
			return nil, fmt.Errorf("projections: read records of %s: %w", pl.gen.Bucket, err)
		}
		key, ok := strings.CutPrefix(m.Header.Get(jetstream.SubjectHeader), pl.kvPre)
		if !ok || key == CheckpointKey {
			continue
		}
		seq, _ := strconv.ParseUint(m.Header.Get(HeaderSequence), 10, 64)
		var value []byte
		if op := m.Header.Get(kvOperationHeader); op == "" && m.Header.Get(jetstream.MarkerReasonHeader) == "" {
			value = m.Data
		}
		found[key] = true
		pl.cache.load(key, value, seq)
	}
	switch {
	case strings.HasPrefix(status, "204"): // end of batch
	case strings.HasPrefix(status, "404"): // none of them exists
	case status == "":
		return nil, fmt.Errorf("projections: read records of %s: the reply ended before the end of the batch: %w", pl.gen.Bucket, cmp.Or(ctx.Err(), errors.New("connection interrupted")))
	default:
		return nil, fmt.Errorf("projections: read records of %s: server answered %s", pl.gen.Bucket, status)
	}
	return found, nil
}
