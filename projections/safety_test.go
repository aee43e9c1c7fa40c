package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natsserver"
	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// counterModel is a View model of counter records.
type counterModel struct{ m map[string]counter }

func newCounterModel() *counterModel { return &counterModel{m: map[string]counter{}} }

func (r *counterModel) Put(key string, value []byte) error {
	var c counter
	if err := json.Unmarshal(value, &c); err != nil {
		return err
	}
	r.m[key] = c
	return nil
}

func (r *counterModel) Delete(key string) { delete(r.m, key) }

// TestOnlyTheLeaseHolderStoresStatus: a standby runner publishes its
// own status (state standby) into the status record of the generation the
// active runner runs, so operators see a failed projection as "standby".
func TestOnlyTheLeaseHolderStoresStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := counterProjection(&counterHandler{poisoned: true})
	r1 := e.startRunner(t, natstest.Connect(t, e.url), p)
	r2 := e.startRunner(t, natstest.Connect(t, e.url), counterProjection(&counterHandler{poisoned: true}))
	active := r1
	if status(t, r1, "counters").State == projections.StateStandby {
		active = r2
	}
	poison := e.appendNotes(t, "a", "poison")
	waitFor(t, "active failed", func() bool { return status(t, active, "counters").State == projections.StateFailed })
	admin, err := projections.NewAdmin(ctxT(t), e.nc, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[projections.State]int{}
	for range 40 {
		rep, err := admin.Report(ctxT(t), "counters")
		if err != nil {
			t.Fatal(err)
		}
		if rep.Active.Status != nil {
			seen[rep.Active.Status.State]++
		}
		time.Sleep(25 * time.Millisecond)
	}
	if seen[projections.StateFailed] != 40 {
		t.Fatalf("projection failed at event %d, but its stored status read %v over 40 reports (the standby overwrites the active runner's status)", poison, seen)
	}
}

// TestGenerationSuffixNamesAreRefused: generation N's bucket is the base
// name with _gN appended, so a projection named counters_g2 would share
// counters' second generation bucket (and lose it to counters' rebuilds).
func TestGenerationSuffixNamesAreRefused(t *testing.T) {
	t.Parallel()
	for _, p := range []projections.Projection{
		counterProjection(&counterHandler{}),
		{Name: "counters_gx", Subjects: []string{"events.>"}, Handler: &counterHandler{}},
		{Name: "c", Bucket: "rm_c_g", Subjects: []string{"events.>"}, Handler: &counterHandler{}},
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("%s (bucket %q) refused: %v", p.Name, p.Bucket, err)
		}
	}
	for _, p := range []projections.Projection{
		{Name: "counters_g2", Subjects: []string{"events.>"}, Handler: &counterHandler{}},
		{Name: "c", Bucket: "rm_c_g12", Subjects: []string{"events.>"}, Handler: &counterHandler{}},
	} {
		if err := p.Validate(); !errors.Is(err, projections.ErrInvalidProjection) || !strings.Contains(err.Error(), "_g<number>") {
			t.Errorf("%s (bucket %q): %v, want a refusal naming the suffix", p.Name, p.Bucket, err)
		}
	}
}

// TestViewNeverGoesBackAtASwitch: once a view has served stream
// sequence S, it must not serve an older state; after a rebuild switch it
// swaps to the new generation as soon as it is loaded, whose checkpoint
// may be behind the old one.
func TestViewNeverGoesBackAtASwitch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.appendNotes(t, "a", "one", "two", "three")
	r := e.startRunner(t, natstest.Connect(t, e.url), counterProjection(&counterHandler{}))
	waitFor(t, "gen 1 applied", func() bool { return status(t, r, "counters").LastApplied >= 3 })
	v, err := projections.NewView(natstest.Connect(t, e.url), withMaxWait(e.cfg, 5*time.Second), counterProjection(nil), newCounterModel)
	if err != nil {
		t.Fatal(err)
	}
	startView(t, v)

	var late atomic.Uint64
	var violation atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	once := sync.Once{}
	admin, err := projections.NewAdmin(ctxT(t), natstest.Connect(t, e.url), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = admin.Rebuild(ctxT(t), counterProjection(&counterHandler{}), func(pr projections.Progress) {
		if pr.Phase != "switching" {
			return
		}
		once.Do(func() {
			// A client writes and reads its write through the view
			// (min_sequence) while generation 1 is still active.
			s := e.appendNotes(t, "a", "four")
			late.Store(s)
			var count int
			if _, err := v.Read(ctxT(t), s, func(m *counterModel) error { count = m.m["a"].Count; return nil }); err != nil {
				t.Errorf("read own write: %v", err)
			}
			if count != 4 {
				t.Errorf("read own write: count %d", count)
			}
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					var count int
					applied, _ := v.Read(context.Background(), 0, func(m *counterModel) error { count = m.m["a"].Count; return nil })
					if applied < s || count < 4 {
						violation.CompareAndSwap(nil, [3]uint64{applied, uint64(count), uint64(v.Generation().Number)})
					}
					time.Sleep(100 * time.Microsecond)
				}
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "view on generation 2", func() bool { return v.Generation().Number == 2 })
	waitFor(t, "generation 2 caught up", func() bool { return v.Applied() >= late.Load() })
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if x := violation.Load(); x != nil {
		vv := x.([3]uint64)
		t.Fatalf("after serving sequence %d (a has 4 events), the view served applied=%d with a having %d events (generation %d)", late.Load(), vv[0], vv[1], vv[2])
	}
}

// blockHandler is a counter handler whose Apply blocks on a note "block"
// until release is closed.
type blockHandler struct {
	counterHandler
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *blockHandler) Apply(ctx context.Context, ev streams.Event, current []byte) ([]byte, error) {
	var n note
	_ = json.Unmarshal(ev.Data, &n)
	if n.Note == "block" {
		h.once.Do(func() { close(h.entered) })
		<-h.release
	}
	return h.counterHandler.Apply(ctx, ev, current)
}

type logCapture struct {
	mu      sync.Mutex
	msgs    []string
	holders []string
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "holder" {
			l.holders = append(l.holders, a.Value.String())
		}
		return true
	})
	l.mu.Unlock()
	return nil
}
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }
func (l *logCapture) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// TestNothingWrittenOrAckedAfterTheLeaseIsLost: a runner that has lost its lease (someone
// else holds it now) still writes the record it was computing and acks its
// event.
func TestNothingWrittenOrAckedAfterTheLeaseIsLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	logs := &logCapture{}
	e.log = slog.New(logs)
	h := &blockHandler{entered: make(chan struct{}), release: make(chan struct{})}
	r := e.startRunner(t, natstest.Connect(t, e.url), counterProjection(h))
	first := e.appendNotes(t, "k", "one")
	waitFor(t, "first applied", func() bool { return status(t, r, "counters").LastApplied >= first })
	blocked := e.appendNotes(t, "k", "block")
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called")
	}
	// Another process takes the lease (as after an expiry during a pause).
	meta, err := e.js.KeyValue(ctxT(t), projections.DefaultMetaBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.Delete(ctxT(t), "counters.lease.g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := meta.Create(ctxT(t), "counters.lease.g1", []byte("other-process"), jetstream.KeyTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "runner notices the lost lease", func() bool { return logs.has("lease lost") })
	close(h.release)
	time.Sleep(time.Second)
	if c, _ := e.record(t, "rm_counters", "k"); c.Count != 1 {
		t.Errorf("record k = %+v written after the runner lost its lease to another process", c)
	}
	cons, err := e.js.Consumer(ctxT(t), "EVENTS", "jetflow_projection_counters_g1")
	if err != nil {
		t.Fatal(err)
	}
	if af := cons.CachedInfo().AckFloor.Stream; af >= blocked {
		t.Errorf("event %d acked (ack floor %d) by a runner that lost its lease", blocked, af)
	}
}

// bigHandler keeps records of about 256 KiB.
type bigHandler struct {
	mu    sync.Mutex
	calls int
}

type bigRecord struct {
	Count int    `json:"count"`
	Pad   string `json:"pad"`
}

var pad = strings.Repeat("x", 256<<10)

func (h *bigHandler) Key(ev streams.Event) (string, error) {
	return projections.Key(ev.AggregateID), nil
}

func (h *bigHandler) Apply(_ context.Context, ev streams.Event, current []byte) ([]byte, error) {
	h.mu.Lock()
	h.calls++
	first := h.calls == 1
	h.mu.Unlock()
	if first {
		// Let the rest of the backlog arrive: the next batch holds them all.
		time.Sleep(500 * time.Millisecond)
	}
	var r bigRecord
	if current != nil {
		if err := json.Unmarshal(current, &r); err != nil {
			return nil, err
		}
	}
	r.Count++
	r.Pad = pad
	return json.Marshal(r)
}

// newEnvConf is newEnv on a server loaded from a nats.conf text.
func newEnvConf(t *testing.T, conf string) *env {
	t.Helper()
	f := t.TempDir() + "/nats.conf"
	if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := natstest.RunServerWithConfig(t, natsserver.Config{ConfigFile: f})
	nc := natstest.Connect(t, srv.URL)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	scfg := streams.DefaultConfig()
	if err := streams.Provision(ctxT(t), js, scfg); err != nil {
		t.Fatal(err)
	}
	store, err := streams.NewStore(js, scfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := projections.Config{
		Streams: scfg, LeaseTTL: 10 * time.Second, StatusInterval: 50 * time.Millisecond,
		Retries: 1, RetryBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	}
	return &env{url: srv.URL, nc: nc, js: js, store: store, cfg: cfg}
}

// TestRecordsReadInSeveralBatchesWhenLarge: a batched read of records
// stops at a byte limit (the runner's 1 MiB, or the server's max_pending);
// the records it did not return are asked again, never taken as absent
// and rebuilt from nothing.
func TestRecordsReadInSeveralBatchesWhenLarge(t *testing.T) {
	t.Parallel()
	e := newEnvConf(t, "listen: 127.0.0.1:-1\nmax_payload: 1MB\nmax_pending: 8MB\n")
	const keys = 24
	ids := make([]string, keys)
	for i := range ids {
		ids[i] = "big" + string(rune('a'+i/26)) + string(rune('a'+i%26))
	}
	var last uint64
	for _, id := range ids {
		last = e.appendNotes(t, id, "one")
	}
	p := projections.Projection{Name: "big", Subjects: []string{"events.thing.>"}, Handler: &bigHandler{}}
	r1 := e.startRunner(t, natstest.Connect(t, e.url), p)
	waitFor(t, "first pass", func() bool { return status(t, r1, "big").LastApplied >= last })
	if err := r1.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		last = e.appendNotes(t, id, "two")
	}
	p.Handler = &bigHandler{}
	r2 := e.startRunner(t, natstest.Connect(t, e.url), p)
	waitFor(t, "second pass", func() bool { return status(t, r2, "big").LastApplied >= last })
	kv, err := e.js.KeyValue(ctxT(t), "rm_big")
	if err != nil {
		t.Fatal(err)
	}
	var lost []string
	for _, id := range ids {
		en, err := kv.Get(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		var br bigRecord
		if err := json.Unmarshal(en.Value(), &br); err != nil {
			t.Fatal(err)
		}
		if br.Count != 2 {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d records lost their first event (count 1, want 2): %v", len(lost), keys, lost)
	}
}

// TestRunnerTakesBackItsOwnLease: a renewal the server stored but whose
// reply came too late (seen under load: "not renewed ... context deadline
// exceeded", then "wrong last sequence" on release) leaves the lease key
// holding the runner's own owner id with a revision it does not know; the
// runner then stands by behind its own lease until it expires, and the
// projection stalls.
func TestRunnerTakesBackItsOwnLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.LeaseTTL = 3 * time.Second
	logs := &logCapture{}
	e.log = slog.New(logs)
	r := e.startRunner(t, natstest.Connect(t, e.url), counterProjection(&counterHandler{}))
	owner := status(t, r, "counters").Owner
	meta, err := e.js.KeyValue(ctxT(t), projections.DefaultMetaBucket)
	if err != nil {
		t.Fatal(err)
	}
	en, err := meta.Get(ctxT(t), "counters.lease.g1")
	if err != nil {
		t.Fatal(err)
	}
	// The renewal as the runner sends it, stored; its reply is lost.
	msg := nats.NewMsg("$KV." + projections.DefaultMetaBucket + ".counters.lease.g1")
	msg.Data = []byte(owner)
	if _, err := e.js.PublishMsg(ctxT(t), msg, jetstream.WithExpectLastSequencePerSubject(en.Revision()), jetstream.WithMsgTTL(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "lease lost", func() bool { return logs.has("lease lost") })
	last := e.appendNotes(t, "s", "one")
	time.Sleep(1500 * time.Millisecond)
	logs.mu.Lock()
	holders := append([]string(nil), logs.holders...)
	logs.mu.Unlock()
	s := status(t, r, "counters")
	if s.State == projections.StateStandby || s.LastApplied < last {
		t.Fatalf("runner %s: state %s, last applied %d (want %d), on standby behind holders %v: its own lease", owner, s.State, s.LastApplied, last, holders)
	}
}

// Admin requests name a projection; a key of the meta bucket that is not
// one (a status or lease record) is refused, never rewritten as a meta
// record.
func TestAdminRefusesNamesThatAreNotProjections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, err := projections.NewAdmin(ctxT(t), e.nc, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"counters.status.g1", "counters.lease.g1", "", "Counters"} {
		if _, err := admin.Skip(ctxT(t), name, 1); !errors.Is(err, projections.ErrInvalidProjection) {
			t.Errorf("Skip(%q): %v", name, err)
		}
		if _, err := admin.Resume(ctxT(t), name); !errors.Is(err, projections.ErrInvalidProjection) {
			t.Errorf("Resume(%q): %v", name, err)
		}
		if _, err := admin.Report(ctxT(t), name); !errors.Is(err, projections.ErrInvalidProjection) {
			t.Errorf("Report(%q): %v", name, err)
		}
	}
}

// A view loads in the background: a wait for it that gives up leaves it
// loading, and it serves once loaded.
func TestViewLoadsAfterAWaitGaveUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	last := e.appendNotes(t, "v", "one")
	e.startRunner(t, natstest.Connect(t, e.url), counterProjection(&counterHandler{}))
	v, err := projections.NewView(natstest.Connect(t, e.url), e.cfg, counterProjection(&counterHandler{}), newCounterModel)
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.Start(gone); err != nil {
		t.Fatalf("start with an ended ctx: %v", err)
	}
	t.Cleanup(func() { _ = v.Stop(context.Background()) })
	if err := v.WaitLoaded(gone); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with an ended ctx: %v", err)
	}
	waitFor(t, "the view loaded in the background", func() bool { return v.Ready() && v.Applied() >= last })
}

// A view whose connection closes ends on its own, saying why, and a wait
// for it returns.
func TestViewEndsWhenItsConnectionCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startRunner(t, natstest.Connect(t, e.url), counterProjection(&counterHandler{}))
	nc := natstest.Connect(t, e.url)
	v, err := projections.NewView(nc, e.cfg, counterProjection(&counterHandler{}), newCounterModel)
	if err != nil {
		t.Fatal(err)
	}
	startView(t, v)
	nc.Close()
	select {
	case <-v.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the view did not end 10s after its connection closed")
	}
	if !errors.Is(v.Err(), nats.ErrConnectionClosed) {
		t.Fatalf("Err = %v, want ErrConnectionClosed", v.Err())
	}
}

// startView starts v, waits until it is loaded, and stops it at the end of
// the test.
func startView[M projections.Model](t *testing.T, v *projections.View[M]) {
	t.Helper()
	if err := v.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if err := v.WaitLoaded(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func withMaxWait(cfg projections.Config, d time.Duration) projections.Config {
	cfg.MaxWait = d
	return cfg
}
