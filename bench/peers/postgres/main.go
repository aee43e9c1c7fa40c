// Command peerpostgres measures an event store written the way a Go user
// would write one on PostgreSQL with pgx v5, on the scenarios of
// `jetflow bench` that have a PostgreSQL counterpart:
//
//   - append: one writer, one event per append, optimistic concurrency;
//   - append-concurrent: 64 writers over 10,000 aggregates;
//   - append-batch: 10 events per append, in one transaction;
//   - append-batch-concurrent: 10 events per append, 64 writers on
//     aggregates of their own;
//   - load: read a 1,000-event aggregate back (p50/p99).
//
// The table is the one a tutorial would give:
//
//	events(global_position bigserial, aggregate_id text, version int,
//	       type text, data jsonb, metadata jsonb, UNIQUE(aggregate_id, version))
//
// An append inserts the events at expected version + 1, + 2, ...; a unique
// violation (SQLSTATE 23505) is the concurrency conflict. Every write
// scenario runs twice, interleaved, on one server: with the server's
// default synchronous_commit=on (each commit waits for its WAL fsync) and
// with synchronous_commit=off set on the session (commits return before the
// fsync, which the WAL writer does within ~200 ms: the counterpart of
// JetStream's default lazy fsync). fsync itself stays on in both modes.
//
// With no -dsn it starts a throwaway cluster (initdb, default settings,
// 127.0.0.1 on a free port, data in a temporary directory) and removes it
// at exit.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ---------------------------------------------------------------------------
// The event store, as a user of pgx would write it.

// ErrConflict is returned when the aggregate is not at the expected version.
var ErrConflict = errors.New("eventstore: concurrency conflict")

// NewEvent is an event to append.
type NewEvent struct {
	Type string
	Data json.RawMessage
}

// Metadata is the envelope stored in the metadata column: what jetflow keeps
// in its message headers besides type, aggregate id and version.
type Metadata struct {
	EventID       string    `json:"event_id"`
	AggregateType string    `json:"aggregate_type"`
	Schema        int       `json:"schema"`
	OccurredAt    time.Time `json:"occurred_at"`
	Source        string    `json:"source"`
}

// Event is a stored event.
type Event struct {
	GlobalPosition int64
	AggregateID    string
	Version        int
	Type           string
	Data           json.RawMessage
	Metadata       Metadata
}

const schemaSQL = `
DROP TABLE IF EXISTS events;
CREATE TABLE events (
	global_position bigserial PRIMARY KEY,
	aggregate_id    text  NOT NULL,
	version         int   NOT NULL,
	type            text  NOT NULL,
	data            jsonb NOT NULL,
	metadata        jsonb NOT NULL,
	UNIQUE (aggregate_id, version)
)`

const insertSQL = `INSERT INTO events (aggregate_id, version, type, data, metadata) VALUES ($1, $2, $3, $4, $5) RETURNING global_position`

const loadSQL = `SELECT global_position, aggregate_id, version, type, data, metadata FROM events WHERE aggregate_id = $1 AND version > $2 ORDER BY version`

// Store is an event store on one pgx pool.
type Store struct {
	pool *pgxpool.Pool
}

func isConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" // unique_violation
}

func meta(aggregateType string, now time.Time) Metadata {
	return Metadata{EventID: uuid.Must(uuid.NewV7()).String(), AggregateType: aggregateType, Schema: 1, OccurredAt: now, Source: "peerpostgres"}
}

// Append stores one event at expected+1 in one autocommit INSERT.
func (s *Store) Append(ctx context.Context, aggregateType, aggregateID string, expected int, ev NewEvent) (int64, error) {
	var pos int64
	err := s.pool.QueryRow(ctx, insertSQL, aggregateID, expected+1, ev.Type, ev.Data, meta(aggregateType, time.Now().UTC())).Scan(&pos)
	if isConflict(err) {
		return 0, ErrConflict
	}
	return pos, err
}

// AppendTx stores events at expected+1.. in one explicit transaction,
// one INSERT after the other: the plain idiom (BEGIN, n INSERTs, COMMIT:
// n+2 round trips).
func (s *Store) AppendTx(ctx context.Context, aggregateType, aggregateID string, expected int, evs []NewEvent) (int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	now := time.Now().UTC()
	var pos int64
	for i, ev := range evs {
		if err := tx.QueryRow(ctx, insertSQL, aggregateID, expected+1+i, ev.Type, ev.Data, meta(aggregateType, now)).Scan(&pos); err != nil {
			if isConflict(err) {
				return 0, ErrConflict
			}
			return 0, err
		}
	}
	return pos, tx.Commit(ctx)
}

// AppendBatch stores events with a pgx.Batch: all INSERTs go in one round
// trip and run in one implicit transaction (all or none).
func (s *Store) AppendBatch(ctx context.Context, aggregateType, aggregateID string, expected int, evs []NewEvent) (int64, error) {
	now := time.Now().UTC()
	b := &pgx.Batch{}
	for i, ev := range evs {
		b.Queue(insertSQL, aggregateID, expected+1+i, ev.Type, ev.Data, meta(aggregateType, now))
	}
	br := s.pool.SendBatch(ctx, b)
	var pos int64
	var err error
	for range evs {
		if err = br.QueryRow().Scan(&pos); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if isConflict(err) {
		return 0, ErrConflict
	}
	return pos, err
}

var multiInsertSQL sync.Map // n -> string

// AppendMulti stores events with one multi-row INSERT ... VALUES (...), (...):
// one statement, one round trip, atomic by itself.
func (s *Store) AppendMulti(ctx context.Context, aggregateType, aggregateID string, expected int, evs []NewEvent) (int64, error) {
	q, ok := multiInsertSQL.Load(len(evs))
	if !ok {
		var b strings.Builder
		b.WriteString("INSERT INTO events (aggregate_id, version, type, data, metadata) VALUES ")
		for i := range evs {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d)", 5*i+1, 5*i+2, 5*i+3, 5*i+4, 5*i+5)
		}
		b.WriteString(" RETURNING global_position")
		q, _ = multiInsertSQL.LoadOrStore(len(evs), b.String())
	}
	now := time.Now().UTC()
	args := make([]any, 0, 5*len(evs))
	for i, ev := range evs {
		args = append(args, aggregateID, expected+1+i, ev.Type, ev.Data, meta(aggregateType, now))
	}
	rows, err := s.pool.Query(ctx, q.(string), args...)
	if err != nil {
		return 0, err
	}
	var pos int64
	for rows.Next() {
		if err := rows.Scan(&pos); err != nil {
			rows.Close()
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		if isConflict(err) {
			return 0, ErrConflict
		}
		return 0, err
	}
	return pos, nil
}

// Load reads an aggregate's events after version `after`, in order.
func Load(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, aggregateID string, after int) ([]Event, error) {
	rows, err := q.Query(ctx, loadSQL, aggregateID, after)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		err := row.Scan(&e.GlobalPosition, &e.AggregateID, &e.Version, &e.Type, &e.Data, &e.Metadata)
		return e, err
	})
}

// ---------------------------------------------------------------------------
// The benchmark.

var benchEventData = json.RawMessage(`{"username":"alice","email":"alice@example.com"}`)

// mode is a session setting every write scenario runs under.
type mode struct {
	Name string // "synchronous_commit=on" / "...=off"
	Off  bool
}

type metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

type result struct {
	Scenario string   `json:"scenario"`
	Mode     string   `json:"mode"`
	Config   string   `json:"config"`
	Unit     string   `json:"unit"`
	Rate     float64  `json:"rate"`
	Headline bool     `json:"headline"`
	Metrics  []metric `json:"metrics,omitempty"`
}

type bench struct {
	dsn      string
	d        time.Duration
	count    int
	writers  int
	aggs     int
	modes    []mode
	admin    *pgxpool.Pool
	out      func(result)
	poolSize map[string]*pgxpool.Pool
}

// pool returns a pool for the mode and size. Only one is open at a time:
// two pools of 64 connections would pass PostgreSQL's default
// max_connections (100). fresh reports a new pool, which the caller warms.
func (b *bench) pool(ctx context.Context, m mode, maxConns int) (p *pgxpool.Pool, fresh bool, err error) {
	key := fmt.Sprintf("%v/%d", m.Off, maxConns)
	if p, ok := b.poolSize[key]; ok {
		return p, false, nil
	}
	b.closePools()
	cfg, err := pgxpool.ParseConfig(b.dsn)
	if err != nil {
		return nil, false, err
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	if m.Off {
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	}
	p, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, false, err
	}
	var sc string
	if err := p.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil {
		p.Close()
		return nil, false, err
	}
	if want := map[bool]string{false: "on", true: "off"}[m.Off]; sc != want {
		p.Close()
		return nil, false, fmt.Errorf("session synchronous_commit is %q, want %q", sc, want)
	}
	b.poolSize[key] = p
	return p, true, nil
}

func (b *bench) closePools() {
	for _, p := range b.poolSize {
		p.Close()
	}
	b.poolSize = map[string]*pgxpool.Pool{}
}

func (b *bench) resetTable(ctx context.Context) error {
	b.closePools() // prepared statements refer to the old table
	_, err := b.admin.Exec(ctx, schemaSQL)
	return err
}

// timed runs op from `writers` goroutines for d and returns successful
// ops/s. An op started before the deadline finishes (its context is not
// cut, so that pgx does not drop the connection) but counts only if it
// finished in time.
func timed(ctx context.Context, d time.Duration, writers int, op func(ctx context.Context, w, i int) error) (float64, error) {
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	var failed atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for w := range writers {
		wg.Go(func() {
			for i := 0; !failed.Load() && time.Now().Before(stop); i++ {
				if err := op(ctx, w, i); err != nil {
					once.Do(func() { firstErr = err; failed.Store(true) })
					return
				}
				if !time.Now().After(stop) {
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(done.Load()) / d.Seconds(), nil
}

// openAll opens every connection the pool may hold.
func openAll(ctx context.Context, p *pgxpool.Pool) error {
	n := int(p.Config().MaxConns)
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := p.Acquire(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}

// variant is one way of running a write scenario.
type variant struct {
	config   string
	unitMult float64 // events per op
	maxConns int     // 0: pgxpool's default (max(4, NumCPU))
	writers  int
	run      func(st *Store, prefix string) func(ctx context.Context, w, i int) error
}

// interleave measures every (mode, variant) pair in 2 rounds of d/2 each,
// round-robin, and reports the mean of the two rounds, so drift on a busy
// machine hits all pairs alike.
func (b *bench) interleave(ctx context.Context, scenario, unit string, vs []variant) error {
	type key struct{ m, v int }
	sums := map[key]float64{}
	for round := range 2 {
		for vi, v := range vs {
			for mi, m := range b.modes {
				p, fresh, err := b.pool(ctx, m, v.maxConns)
				if err != nil {
					return err
				}
				st := &Store{pool: p}
				if fresh {
					// open the pool's connections and fill their statement
					// caches before the clock starts
					if err := openAll(ctx, p); err != nil {
						return err
					}
					if _, err := timed(ctx, 200*time.Millisecond, v.writers, v.run(st, fmt.Sprintf("w%d-v%d-m%d-", round, vi, mi))); err != nil {
						return fmt.Errorf("%s %s warm-up: %w", scenario, v.config, err)
					}
				}
				r, err := timed(ctx, b.d/2, v.writers, v.run(st, fmt.Sprintf("r%d-v%d-m%d-", round, vi, mi)))
				if err != nil {
					return fmt.Errorf("%s %s %s: %w", scenario, v.config, m.Name, err)
				}
				sums[key{mi, vi}] += r * v.unitMult
			}
		}
	}
	for mi, m := range b.modes {
		best := -1
		for vi := range vs {
			if best < 0 || sums[key{mi, vi}] > sums[key{mi, best}] {
				best = vi
			}
		}
		for vi, v := range vs {
			b.out(result{Scenario: scenario, Mode: m.Name, Config: v.config, Unit: unit, Rate: sums[key{mi, vi}] / 2, Headline: vi == best})
		}
	}
	return nil
}

func (b *bench) appendScenario(ctx context.Context) error {
	if err := b.resetTable(ctx); err != nil {
		return err
	}
	// One writer, one aggregate, one event per append (as jetflow's bench).
	return b.interleave(ctx, "append", "events/s", []variant{{
		config: "1 writer, INSERT per event (autocommit)", unitMult: 1, writers: 1,
		run: func(st *Store, prefix string) func(context.Context, int, int) error {
			version := 0
			id := prefix + "0"
			return func(ctx context.Context, _, _ int) error {
				if _, err := st.Append(ctx, "bench", id, version, NewEvent{Type: "bench.happened", Data: benchEventData}); err != nil {
					return err
				}
				version++
				return nil
			}
		},
	}})
}

func (b *bench) appendConcurrentScenario(ctx context.Context) error {
	if err := b.resetTable(ctx); err != nil {
		return err
	}
	writers, aggs := b.writers, b.aggs
	run := func(st *Store, prefix string) func(context.Context, int, int) error {
		versions := make([]int, aggs)
		// Writer w owns the aggregates [w*n/writers, (w+1)*n/writers): no
		// conflicts, as in jetflow's bench.
		return func(ctx context.Context, w, i int) error {
			lo, hi := w*aggs/writers, (w+1)*aggs/writers
			a := lo + i%(hi-lo)
			if _, err := st.Append(ctx, "bench", prefix+strconv.Itoa(a), versions[a], NewEvent{Type: "bench.happened", Data: benchEventData}); err != nil {
				return err
			}
			versions[a]++
			return nil
		}
	}
	return b.interleave(ctx, "append-concurrent", "events/s", []variant{
		{config: fmt.Sprintf("%d writers, pool of %d conns", writers, writers), unitMult: 1, writers: writers, maxConns: writers, run: run},
		{config: fmt.Sprintf("%d writers, pgxpool default (%d conns)", writers, max(4, runtime.NumCPU())), unitMult: 1, writers: writers, run: run},
	})
}

func (b *bench) appendBatchScenario(ctx context.Context) error {
	if err := b.resetTable(ctx); err != nil {
		return err
	}
	const perAppend = 10
	batch := make([]NewEvent, perAppend)
	for i := range batch {
		batch[i] = NewEvent{Type: "bench.happened", Data: benchEventData}
	}
	mk := func(f func(st *Store) func(context.Context, string, string, int, []NewEvent) (int64, error)) func(st *Store, prefix string) func(context.Context, int, int) error {
		return func(st *Store, prefix string) func(context.Context, int, int) error {
			version := 0
			id := prefix + "b"
			appendFn := f(st)
			return func(ctx context.Context, _, _ int) error {
				if _, err := appendFn(ctx, "bench", id, version, batch); err != nil {
					return err
				}
				version += perAppend
				return nil
			}
		}
	}
	return b.interleave(ctx, "append-batch", "events/s", []variant{
		{config: "BEGIN; 10 x INSERT; COMMIT", unitMult: perAppend, writers: 1, run: mk(func(st *Store) func(context.Context, string, string, int, []NewEvent) (int64, error) {
			return st.AppendTx
		})},
		{config: "pgx.Batch of 10 INSERTs (implicit tx, 1 round trip)", unitMult: perAppend, writers: 1, run: mk(func(st *Store) func(context.Context, string, string, int, []NewEvent) (int64, error) {
			return st.AppendBatch
		})},
		{config: "one 10-row INSERT ... VALUES", unitMult: perAppend, writers: 1, run: mk(func(st *Store) func(context.Context, string, string, int, []NewEvent) (int64, error) {
			return st.AppendMulti
		})},
	})
}

func (b *bench) appendBatchConcurrentScenario(ctx context.Context) error {
	if err := b.resetTable(ctx); err != nil {
		return err
	}
	const perAppend = 10
	batch := make([]NewEvent, perAppend)
	for i := range batch {
		batch[i] = NewEvent{Type: "bench.happened", Data: benchEventData}
	}
	writers := b.writers
	// Writer w appends to aggregate w over and over, as jetflow's bench:
	// a command of several events on an aggregate that exists.
	run := func(appendFn func(st *Store) func(context.Context, string, string, int, []NewEvent) (int64, error)) func(st *Store, prefix string) func(context.Context, int, int) error {
		return func(st *Store, prefix string) func(context.Context, int, int) error {
			versions := make([]int, writers)
			fn := appendFn(st)
			return func(ctx context.Context, w, _ int) error {
				if _, err := fn(ctx, "bench", prefix+strconv.Itoa(w), versions[w], batch); err != nil {
					return err
				}
				versions[w] += perAppend
				return nil
			}
		}
	}
	multi := func(st *Store) func(context.Context, string, string, int, []NewEvent) (int64, error) {
		return st.AppendMulti
	}
	tx := func(st *Store) func(context.Context, string, string, int, []NewEvent) (int64, error) {
		return st.AppendTx
	}
	return b.interleave(ctx, "append-batch-concurrent", "events/s", []variant{
		{config: fmt.Sprintf("%d writers, one 10-row INSERT, pool of %d conns", writers, writers), unitMult: perAppend, writers: writers, maxConns: writers, run: run(multi)},
		{config: fmt.Sprintf("%d writers, one 10-row INSERT, pgxpool default (%d conns)", writers, max(4, runtime.NumCPU())), unitMult: perAppend, writers: writers, run: run(multi)},
		{config: fmt.Sprintf("%d writers, BEGIN; 10 x INSERT; COMMIT, pool of %d conns", writers, writers), unitMult: perAppend, writers: writers, maxConns: writers, run: run(tx)},
	})
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU reads a server process's CPU time from /proc (clock ticks,
// 100 Hz: only sums over many loads mean anything).
func backendCPU(pid uint32) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

func percentile(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (b *bench) loadScenario(ctx context.Context) error {
	if err := b.resetTable(ctx); err != nil {
		return err
	}
	// Reads do not depend on synchronous_commit: one mode is enough.
	p, _, err := b.pool(ctx, b.modes[0], 0)
	if err != nil {
		return err
	}
	st := &Store{pool: p}
	const id = "long"
	for v := 0; v < b.count; v += 100 {
		n := min(100, b.count-v)
		if _, err := st.AppendMulti(ctx, "bench", id, v, make100(n)); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	if _, err := b.admin.Exec(ctx, "VACUUM ANALYZE events"); err != nil {
		return err
	}
	conn, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	pid := conn.Conn().PgConn().PID()
	var wall, cpu []time.Duration
	srv0, srvOK := backendCPU(pid)
	rounds := 0
	deadline := time.Now().Add(b.d)
	for rounds < 20 || (time.Now().Before(deadline) && rounds < 2000) {
		c0, t0 := processCPU(), time.Now()
		evs, err := Load(ctx, conn, id, 0)
		if err != nil {
			return err
		}
		wall = append(wall, time.Since(t0))
		cpu = append(cpu, processCPU()-c0)
		if len(evs) != b.count || evs[len(evs)-1].Version != b.count || evs[0].Metadata.EventID == "" {
			return fmt.Errorf("loaded %d events, want %d", len(evs), b.count)
		}
		rounds++
	}
	srv1, _ := backendCPU(pid)
	var clientSum time.Duration
	for _, c := range cpu {
		clientSum += c
	}
	mets := []metric{
		{Name: "p50", Value: ms(percentile(wall, 50)), Unit: "ms"},
		{Name: "p99", Value: ms(percentile(wall, 99)), Unit: "ms"},
		{Name: "client CPU per load p50", Value: ms(percentile(cpu, 50)), Unit: "ms"},
		{Name: "client CPU per load mean", Value: ms(clientSum / time.Duration(rounds)), Unit: "ms"},
	}
	if srvOK {
		mets = append(mets, metric{Name: "server backend CPU per load mean", Value: ms((srv1 - srv0) / time.Duration(rounds)), Unit: "ms"},
			metric{Name: "client+server CPU per load mean", Value: ms((srv1 - srv0 + clientSum) / time.Duration(rounds)), Unit: "ms"})
	}
	mets = append(mets, metric{Name: "loads", Value: float64(rounds), Unit: "loads"}, metric{Name: "events per load", Value: float64(b.count), Unit: "events"})
	b.out(result{Scenario: "load", Mode: "any (read-only)", Config: "SELECT ... WHERE aggregate_id=$1 ORDER BY version, rows scanned into structs (metadata jsonb decoded)", Unit: "loads/s",
		Rate: float64(time.Second) / float64(percentile(wall, 50)), Headline: true, Metrics: mets})
	return nil
}

func make100(n int) []NewEvent {
	evs := make([]NewEvent, n)
	for i := range evs {
		evs[i] = NewEvent{Type: "bench.happened", Data: benchEventData}
	}
	return evs
}

// selfTest checks the store's concurrency contract before anything is timed.
func (b *bench) selfTest(ctx context.Context) error {
	if err := b.resetTable(ctx); err != nil {
		return err
	}
	p, _, err := b.pool(ctx, b.modes[0], 0)
	if err != nil {
		return err
	}
	st := &Store{pool: p}
	ev := NewEvent{Type: "t", Data: benchEventData}
	if _, err := st.Append(ctx, "t", "a", 0, ev); err != nil {
		return err
	}
	if _, err := st.Append(ctx, "t", "a", 0, ev); !errors.Is(err, ErrConflict) {
		return fmt.Errorf("second append at version 0: got %v, want a conflict", err)
	}
	for name, f := range map[string]func(context.Context, string, string, int, []NewEvent) (int64, error){"tx": st.AppendTx, "batch": st.AppendBatch, "multi": st.AppendMulti} {
		// expected 0 is stale (the aggregate is at 1): the first row
		// collides, so nothing of the batch may be stored.
		if _, err := f(ctx, "t", "a", 0, []NewEvent{ev, ev, ev}); !errors.Is(err, ErrConflict) {
			return fmt.Errorf("%s append at stale version: got %v, want a conflict", name, err)
		}
		var n int
		if err := p.QueryRow(ctx, "SELECT count(*) FROM events WHERE aggregate_id = 'a'").Scan(&n); err != nil || n != 1 {
			return fmt.Errorf("%s: after a refused batch the aggregate has %d events (err %v), want 1", name, n, err)
		}
	}
	if _, err := st.AppendBatch(ctx, "t", "a", 1, []NewEvent{ev, ev}); err != nil {
		return err
	}
	evs, err := Load(ctx, p, "a", 0)
	if err != nil || len(evs) != 3 || evs[2].Version != 3 || evs[1].Metadata.EventID == "" {
		return fmt.Errorf("load after appends: %d events, err %v", len(evs), err)
	}
	return nil
}

func main() {
	dsn := flag.String("dsn", "", "PostgreSQL connection string (empty: start a throwaway cluster with default settings)")
	d := flag.Duration("duration", 3*time.Second, "length of each timed measurement (per mode and configuration; 2 interleaved rounds of half)")
	scenarios := flag.String("scenario", "append,append-concurrent,append-batch,append-batch-concurrent,load", "scenarios to run, comma separated")
	modes := flag.String("modes", "on,off", "synchronous_commit settings to run the write scenarios under, comma separated")
	count := flag.Int("count", 1000, "events in the loaded aggregate")
	writers := flag.Int("writers", 64, "writers in append-concurrent")
	aggs := flag.Int("aggregates", 10000, "aggregates in append-concurrent")
	asJSON := flag.Bool("json", false, "print one JSON line per result")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cluster *cluster
	if *dsn == "" {
		c, err := startCluster(ctx)
		if err != nil {
			fatal(err)
		}
		cluster = c
		*dsn = c.dsn
	}
	code := 0
	if err := run(ctx, *dsn, *d, *scenarios, *modes, *count, *writers, *aggs, *asJSON); err != nil {
		fmt.Fprintln(os.Stderr, "peerpostgres:", err)
		code = 1
	}
	if cluster != nil {
		cluster.stop()
	}
	os.Exit(code)
}

func run(ctx context.Context, dsn string, d time.Duration, scenarios, modes string, count, writers, aggs int, asJSON bool) error {
	admin, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer admin.Close()
	var version, fsync, walSync, sharedBuf, syncCommit string
	if err := admin.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('wal_sync_method'), current_setting('shared_buffers'), current_setting('synchronous_commit')").Scan(&version, &fsync, &walSync, &sharedBuf, &syncCommit); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "# PostgreSQL %s (fsync=%s, wal_sync_method=%s, shared_buffers=%s, server synchronous_commit=%s), pgx v5.13.0, %s, %d CPUs, %s per measurement\n",
		version, fsync, walSync, sharedBuf, syncCommit, runtime.Version(), runtime.NumCPU(), d)
	b := &bench{dsn: dsn, d: d, count: count, writers: writers, aggs: aggs, admin: admin, poolSize: map[string]*pgxpool.Pool{}}
	defer b.closePools()
	for _, m := range strings.Split(modes, ",") {
		switch strings.TrimSpace(m) {
		case "on":
			b.modes = append(b.modes, mode{Name: "synchronous_commit=on"})
		case "off":
			b.modes = append(b.modes, mode{Name: "synchronous_commit=off", Off: true})
		default:
			return fmt.Errorf("-modes: %q is neither on nor off", m)
		}
	}
	if len(b.modes) == 0 {
		return errors.New("-modes: none")
	}
	b.out = func(r result) {
		if asJSON {
			_ = json.NewEncoder(os.Stdout).Encode(r)
			return
		}
		mark := " "
		if r.Headline {
			mark = "*"
		}
		fmt.Printf("%-18s %-23s %s %12.0f %-9s %s\n", r.Scenario, r.Mode, mark, r.Rate, r.Unit, r.Config)
		for _, m := range r.Metrics {
			fmt.Printf("%-18s   %-40s %10.3f %s\n", "", m.Name, m.Value, m.Unit)
		}
	}
	if err := b.selfTest(ctx); err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	all := map[string]func(context.Context) error{
		"append": b.appendScenario, "append-concurrent": b.appendConcurrentScenario,
		"append-batch": b.appendBatchScenario, "append-batch-concurrent": b.appendBatchConcurrentScenario, "load": b.loadScenario,
	}
	names := strings.Split(scenarios, ",")
	for _, n := range names {
		f, ok := all[strings.TrimSpace(n)]
		if !ok {
			known := make([]string, 0, len(all))
			for k := range all {
				known = append(known, k)
			}
			slices.Sort(known)
			return fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(known, ", "))
		}
		if err := f(ctx); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "peerpostgres:", err)
	os.Exit(1)
}
