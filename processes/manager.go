package processes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/lifecycle"
	"github.com/jetflow/jetflow/streams"
	"github.com/jetflow/jetflow/wire"
)

// maxConflictRetries bounds how often one message is decided again after
// another writer changed its instance; past it the message is retried
// later by the worker (ErrStateConflicts).
const maxConflictRetries = 64

// Manager runs a process manager: a worker on the event stream and one on
// the deadline topic, both from package consumers (retries, backoff,
// dead-letter queue), over instance records in a KV bucket. It is a
// lifecycle.Component: Start it once, Stop it once. Several managers of
// the same definition (in several processes) share the work: the
// subscriptions are queue groups, and a record is only written with
// compare-and-set on the revision it was read at.
type Manager[S any] struct {
	def     Definition[S]
	cfg     Config
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time
	wopts   []consumers.WorkerOption

	nc     *nats.Conn
	js     jetstream.JetStream
	client *client.Client
	pub    *consumers.Publisher

	mu      sync.Mutex
	started bool
	bucket  jetstream.Stream
	workers []*consumers.Worker
	quit    chan struct{}
	ending  lifecycle.Ending

	locks keyLocks
	cache *recordCache
	sent  *idSet
	floor floorCache
}

// New validates def and cfg and returns a manager on nc; nothing runs
// until Start.
func New[S any](nc *nats.Conn, def Definition[S], cfg Config, opts ...Option) (*Manager[S], error) {
	if err := errors.Join(def.Validate(), cfg.Validate(def.Name)); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults(def.Name)
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.metrics == nil {
		o.metrics = nopMetrics{}
	}
	if o.now == nil {
		o.now = time.Now
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("processes: %w", err)
	}
	return &Manager[S]{
		def: def, cfg: cfg, log: o.logger.With(slog.String("process", def.Name)), metrics: o.metrics, now: o.now,
		wopts: o.workerOpts, nc: nc, js: js,
		client: client.New(nc, client.WithCommandPrefix(cfg.CommandPrefix), client.WithTimeout(cfg.CommandTimeout)),
		pub:    consumers.NewPublisher(js, consumers.WithPublisherClock(o.now)),
		quit:   make(chan struct{}),
		cache:  newRecordCache(cfg.CacheSize),
		sent:   newIDSet(max(4*cfg.CacheSize, 1<<16)),
	}, nil
}

// Name is the manager's name.
func (m *Manager[S]) Name() string { return m.def.Name }

// Config is the manager's configuration with the defaults applied.
func (m *Manager[S]) Config() Config { return m.cfg }

// Subscriptions are the manager's subscriptions, as its workers run them
// (handlers included): on the event stream, and on the deadline topic
// when the definition has deadlines.
func (m *Manager[S]) Subscriptions() []consumers.Subscription {
	start := consumers.StartNew
	if m.def.FromStart {
		start = consumers.StartAll
	}
	// Each of the Concurrency pull loops keeps a few messages ahead: one
	// each would cost a pull request per message.
	batch := max(consumers.DefaultBatchSize, 4*m.cfg.Concurrency)
	subs := []consumers.Subscription{{
		Name: ConsumerPrefix + m.def.Name, Stream: m.cfg.Events.EventStream, Subjects: m.def.subjects(m.cfg.Events.SubjectPrefix),
		MaxRetries: m.cfg.MaxRetries, Backoff: m.cfg.Backoff, AckWait: m.cfg.AckWait, Concurrency: m.cfg.Concurrency,
		BatchSize: batch, StartAt: start, Handler: m.onEvents,
	}}
	if len(m.def.Deadlines) > 0 {
		// Deadlines are few beside events; a topic subscription runs its
		// pull loops at each of four priorities.
		subs = append(subs, consumers.Subscription{
			Name: ConsumerPrefix + m.def.Name, Topic: m.cfg.DeadlineTopic, Subjects: []string{m.def.Name + ".>"},
			MaxRetries: m.cfg.MaxRetries, Backoff: m.cfg.Backoff, AckWait: m.cfg.AckWait, Concurrency: min(m.cfg.Concurrency, 8),
			Handler: m.onDeadline,
		})
	}
	return subs
}

// Start provisions the bucket and the deadline topic, then starts the
// workers. ctx bounds the provisioning.
func (m *Manager[S]) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return errors.New("processes: manager started twice")
	}
	if _, err := streams.EnsureKeyValue(ctx, m.js, jetstream.KeyValueConfig{
		Bucket: m.cfg.Bucket, Description: "jetflow process " + m.def.Name + ": one record per instance",
		History: 1, Replicas: m.cfg.Replicas, Storage: jetstream.FileStorage, LimitMarkerTTL: m.cfg.RememberEnded,
	}); err != nil {
		return fmt.Errorf("processes: %s: %w", m.def.Name, err)
	}
	bucket, err := m.js.Stream(ctx, "KV_"+m.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("processes: %s: bucket %s: %w", m.def.Name, m.cfg.Bucket, err)
	}
	m.bucket = bucket
	if len(m.def.Deadlines) > 0 {
		if _, err := consumers.EnsureTopic(ctx, m.js, consumers.TopicConfig{Name: m.cfg.DeadlineTopic, Replicas: m.cfg.Replicas}); err != nil {
			return fmt.Errorf("processes: %s: deadline topic: %w", m.def.Name, err)
		}
	}
	wopts := append([]consumers.WorkerOption{consumers.WithLogger(m.log)}, m.wopts...)
	var workers []*consumers.Worker
	for _, sub := range m.Subscriptions() {
		w, err := consumers.NewWorker(m.js, sub, wopts...)
		if err != nil {
			return fmt.Errorf("processes: %s: %w", m.def.Name, err)
		}
		workers = append(workers, w)
	}
	for i, w := range workers {
		if err := w.Start(ctx); err != nil {
			for _, started := range workers[:i] {
				_ = started.Stop(context.WithoutCancel(ctx))
			}
			return fmt.Errorf("processes: %s: %w", m.def.Name, err)
		}
	}
	m.workers, m.started = workers, true
	for _, w := range workers {
		go func() {
			select {
			case <-w.Done():
				if err := w.Err(); err != nil {
					m.ending.Fail(fmt.Errorf("processes: %s: %w", m.def.Name, err))
				}
			case <-m.quit:
			}
		}()
	}
	m.log.Info("process manager started", slog.String("bucket", m.cfg.Bucket), slog.Int("concurrency", m.cfg.Concurrency))
	return nil
}

// Stop stops both workers, letting messages in flight finish until ctx
// ends (see consumers.Worker.Stop).
func (m *Manager[S]) Stop(ctx context.Context) error {
	defer m.ending.Stopped()
	m.mu.Lock()
	workers := m.workers
	m.workers = nil
	select {
	case <-m.quit:
	default:
		close(m.quit)
	}
	m.mu.Unlock()
	errs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Go(func() { errs[i] = w.Stop(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Done is closed once the manager has ended: stopped, or failed on its own
// (a worker's consumer deleted, the connection closed); Err says why.
func (m *Manager[S]) Done() <-chan struct{} { return m.ending.Done() }

// Err is why the manager ended on its own, nil while it runs or after Stop.
func (m *Manager[S]) Err() error { return m.ending.Err() }

// onEvents handles one message of the event stream: each event of its
// commit, for each instance it concerns, in order. A redelivery finds the
// instances handled before done (their records list the event).
func (m *Manager[S]) onEvents(ctx context.Context, msg *consumers.Message) error {
	evs, err := msg.Events()
	if err != nil {
		return consumers.Permanent(err)
	}
	for _, ev := range evs {
		on, ok := m.def.on(ev.Type)
		if !ok {
			continue
		}
		ids, err := on.instancesOf(ev)
		if err != nil {
			m.metrics.ProcessFailed(m.def.Name)
			return consumers.Permanent(err)
		}
		if len(ids) == 0 {
			m.metrics.MessageSkipped(m.def.Name, ReasonNoInstances)
			m.log.DebugContext(ctx, "event concerns no instance", slog.String("event", ev.Type), slog.String("event_id", ev.ID))
		}
		for _, id := range ids {
			if err := m.handle(ctx, id, eventMessage(ev, on)); err != nil {
				return err
			}
		}
	}
	return nil
}

// onDeadline handles a deadline's message from the deadline topic.
func (m *Manager[S]) onDeadline(ctx context.Context, msg *consumers.Message) error {
	h := msg.Header()
	if h.Get(HeaderProcess) != m.def.Name {
		return consumers.Permanent(fmt.Errorf("processes: %s: deadline message of process %q", m.def.Name, h.Get(HeaderProcess)))
	}
	id, name, did := h.Get(HeaderInstance), h.Get(HeaderDeadline), h.Get(HeaderDeadlineID)
	if err := ValidateInstanceID(id); err != nil {
		return consumers.Permanent(err)
	}
	if name == "" || did == "" {
		return consumers.Permanent(fmt.Errorf("processes: %s: deadline message without %s or %s", m.def.Name, HeaderDeadline, HeaderDeadlineID))
	}
	at, _ := time.Parse(time.RFC3339, h.Get(wire.HeaderScheduledAt))
	var payload []byte
	if len(msg.Data()) > 0 {
		payload = append([]byte(nil), msg.Data()...)
	}
	fired := Fired{Name: name, ID: did, At: at, Payload: payload}
	return m.handle(ctx, id, message[S]{ID: did, Kind: KindDeadline, Type: name, CorrelationID: msg.CorrelationID(), fired: &fired})
}

// handle runs msg against instance id: read its record, decide, store the
// new record with compare-and-set, then do the effects. A lost race is
// decided again on the new record; a message handled before has its
// pending effects done again; a failure leaves the record as it was
// (before the write) or the effects pending (after it) for the
// redelivery.
func (m *Manager[S]) handle(ctx context.Context, id string, msg message[S]) error {
	key := InstanceKey(id)
	unlock := m.locks.lock(key)
	defer unlock()
	began := time.Now()
	mode := readCached
	if msg.start {
		mode = readNew
	}
	for attempt := 0; ; attempt++ {
		st, guessed, err := m.get(ctx, key, mode)
		if err != nil {
			m.metrics.ProcessFailed(m.def.Name)
			return err
		}
		if st.rec != nil && st.rec.handled(msg.ID) {
			// A redelivery: its step is stored; what it left pending is
			// done again, with the same ids, however long ago it was
			// written.
			var again []Effect
			for _, e := range st.rec.pendingOf(msg.ID) {
				if !m.sent.has(e.ID) {
					again = append(again, e)
				}
			}
			if err := m.do(ctx, id, again); err != nil {
				m.metrics.ProcessFailed(m.def.Name)
				return err
			}
			m.metrics.MessageSkipped(m.def.Name, ReasonDuplicate)
			m.log.DebugContext(ctx, "handled before; pending effects done again", slog.String("instance", id),
				slog.String(msg.Kind, msg.Type), slog.Int("effects", len(again)))
			return nil
		}
		var base *Record
		var overdue []Effect
		if st.rec != nil {
			base = st.rec.clone()
			base.Pending, overdue = m.sortPending(st.rec.Pending)
		}
		dec, err := m.def.decide(ctx, base, st.tomb, id, msg, m.now(), m.cfg.History, m.eventsAckFloor(ctx))
		if err != nil {
			m.metrics.ProcessFailed(m.def.Name)
			m.log.WarnContext(ctx, "handler failed; the instance is left as it was",
				slog.String("instance", id), slog.String(msg.Kind, msg.Type), slog.String("error", err.Error()))
			return err
		}
		switch dec.verdict {
		case applied:
		default:
			if guessed || mode != readLeader {
				// Skip only on what the bucket's leader says now.
				mode = readLeader
				continue
			}
			m.metrics.MessageSkipped(m.def.Name, dec.verdict.reason())
			m.log.InfoContext(ctx, "message skipped", slog.String("instance", id), slog.String(msg.Kind, msg.Type),
				slog.String("id", msg.ID), slog.String("reason", dec.verdict.reason()))
			return nil
		}
		// Effects of earlier steps that no one confirmed in time leave the
		// record only once they are done.
		if err := m.do(ctx, id, overdue); err != nil {
			m.metrics.ProcessFailed(m.def.Name)
			return err
		}
		rev, err := m.write(ctx, key, st.rev, dec.next)
		if errors.Is(err, errConflict) {
			m.metrics.StateConflict(m.def.Name)
			m.cache.drop(key)
			mode = readCached // the cache no longer has it: a direct get
			if attempt >= maxConflictRetries {
				return fmt.Errorf("%w: %s %s after %d attempts", ErrStateConflicts, m.def.Name, id, attempt+1)
			}
			// Writers racing for one instance take turns.
			time.Sleep(time.Duration(rand.IntN(min(attempt+1, 10))+1) * time.Millisecond)
			continue
		}
		if err != nil {
			m.cache.drop(key)
			m.metrics.ProcessFailed(m.def.Name)
			return err
		}
		tomb := dec.next.Status == StatusEnded && m.cfg.KeepEnded == 0
		m.cache.put(key, stored{rec: dec.next, rev: rev, tomb: tomb})
		if err := m.do(ctx, id, dec.effects); err != nil {
			m.metrics.ProcessFailed(m.def.Name)
			return err
		}
		if dec.started {
			m.metrics.ProcessStarted(m.def.Name)
		}
		if msg.Kind == KindDeadline {
			m.metrics.DeadlineFired(m.def.Name)
		}
		if dec.next.Status == StatusEnded {
			m.metrics.ProcessEnded(m.def.Name)
		}
		m.metrics.ProcessHandled(m.def.Name, msg.Kind, time.Since(began))
		return nil
	}
}

// sortPending splits a record's pending effects: those this manager did
// are dropped, those written more than an ack wait ago are overdue (their
// writer is gone: its message was redelivered, or acked and lost them),
// the others stay for their writer to do.
func (m *Manager[S]) sortPending(pending []Effect) (keep, overdue []Effect) {
	now := m.now()
	for _, e := range pending {
		switch {
		case m.sent.has(e.ID):
		case now.Sub(e.WrittenAt) > m.cfg.AckWait:
			overdue = append(overdue, e)
		default:
			keep = append(keep, e)
		}
	}
	return keep, overdue
}

// do carries out effects in order: cancellations and deadlines on the
// deadline topic, commands over the command service. A command the
// service refuses (4xx) is done: the refusal is its answer, logged.
func (m *Manager[S]) do(ctx context.Context, id string, effects []Effect) error {
	for _, e := range effects {
		var err error
		switch e.Kind {
		case EffectCancel:
			err = consumers.CancelScheduled(ctx, m.js, m.cfg.DeadlineTopic, deadlineKey(m.def.Name, id, e.ID))
			if errors.Is(err, consumers.ErrNotScheduled) {
				err = nil // fired already, or cancelled before
			}
		case EffectDeadline:
			err = m.schedule(ctx, id, e)
		case EffectCommand:
			err = m.send(ctx, e)
		}
		if err != nil {
			return err
		}
		m.sent.add(e.ID)
	}
	return nil
}

func (m *Manager[S]) schedule(ctx context.Context, id string, e Effect) error {
	if e.At == nil {
		return fmt.Errorf("%w: deadline %s without a time", ErrMalformedRecord, e.Name)
	}
	key := deadlineKey(m.def.Name, id, e.ID)
	_, err := m.pub.PublishAt(ctx, m.cfg.DeadlineTopic, *e.At, consumers.Outgoing{
		Key: key, MsgID: key, Data: e.Body, Priority: consumers.PriorityHigh, CorrelationID: e.CorrelationID,
		Header: nats.Header{HeaderProcess: {m.def.Name}, HeaderInstance: {id}, HeaderDeadline: {e.Name}, HeaderDeadlineID: {e.ID}},
	})
	if err != nil {
		return fmt.Errorf("processes: %s %s: set deadline %s: %w", m.def.Name, id, e.Name, err)
	}
	return nil
}

func (m *Manager[S]) send(ctx context.Context, e Effect) error {
	body := []byte(e.Body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	opts := []client.CommandOption{client.CommandID(e.ID)}
	if e.CorrelationID != "" {
		opts = append(opts, client.CorrelationID(e.CorrelationID))
	}
	cctx, cancel := context.WithTimeout(ctx, m.cfg.CommandTimeout)
	defer cancel()
	_, err := m.client.SendRaw(cctx, e.Name, body, opts...)
	var we *wire.Error
	if errors.As(err, &we) && we.Status >= 400 && we.Status < 500 {
		// The service answered: sending again would get the same answer.
		m.log.WarnContext(ctx, "command refused", slog.String("command", e.Name), slog.String("command_id", e.ID),
			slog.Int("status", we.Status), slog.String("error", we.Message))
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %s (id %s): %w", ErrCommandFailed, e.Name, e.ID, err)
	}
	return nil
}

// floorCache caches the event consumer's ack floor.
type floorCache struct {
	mu   sync.Mutex
	seq  atomic.Uint64
	read atomic.Int64 // when it was last asked, unix nanoseconds
}

// floorRefresh is how often the ack floor is asked for: a stale floor is
// only lower, which keeps more of a record's Handled list.
const floorRefresh = time.Second

// eventsAckFloor is the event consumer's ack floor: every event at or
// below it is acknowledged, so none of them is delivered again. It asks
// the server at most once per floorRefresh; a failed ask keeps the last
// floor known.
func (m *Manager[S]) eventsAckFloor(ctx context.Context) uint64 {
	f := &m.floor
	if time.Since(time.Unix(0, f.read.Load())) < floorRefresh || !f.mu.TryLock() {
		return f.seq.Load()
	}
	defer f.mu.Unlock()
	f.read.Store(time.Now().UnixNano())
	c, err := m.js.Consumer(ctx, m.cfg.Events.EventStream, ConsumerPrefix+m.def.Name)
	if err == nil {
		if info := c.CachedInfo(); info != nil {
			f.seq.Store(info.AckFloor.Stream)
		}
	} else {
		m.log.DebugContext(ctx, "ack floor unknown; handled messages kept", slog.String("error", err.Error()))
	}
	return f.seq.Load()
}
