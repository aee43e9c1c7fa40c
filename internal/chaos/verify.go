package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// verifyWait bounds each wait of the verification: replicas catching up,
// a projection catching up, the worker delivering what is left.
const verifyWait = 90 * time.Second

// maxProblems bounds the problems a report lists one by one.
const maxProblems = 20

// checker verifies one phase against what the cluster (or the embedded
// server) holds once the faults are over.
type checker struct {
	nc        *nats.Conn // admin: directly to the servers
	js        jetstream.JetStream
	store     *streams.Store
	replicas  int
	readModel projections.Projection
	log       *slog.Logger
	// onStall is called when the read model stops short of the stream,
	// to record why (the serves' goroutines) before anything changes.
	onStall func()
	// wait bounds each wait of the verification (verifyWait).
	wait time.Duration
}

func newChecker(nc *nats.Conn, replicas int, readModel projections.Projection, log *slog.Logger) (*checker, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	store, err := streams.NewStore(js, streams.Config{Replicas: replicas})
	if err != nil {
		return nil, err
	}
	return &checker{nc: nc, js: js, store: store, replicas: replicas, readModel: readModel, log: log, wait: verifyWait}, nil
}

// problem records a violation in r, the first maxProblems with details.
func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// waitCurrent waits until every replica of stream has what its leader has
// (a direct get may be served by any replica), or the wait is over.
func (c *checker) waitCurrent(ctx context.Context, stream string) error {
	if c.replicas <= 1 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	var last string
	for {
		st, err := c.js.Stream(ctx, stream)
		if err == nil {
			var info *jetstream.StreamInfo
			if info, err = st.Info(ctx); err == nil {
				if current(info) {
					return nil
				}
				last = fmt.Sprintf("%+v", info.Cluster)
			}
		}
		if err != nil {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: replicas of %s not current: %s: %w", stream, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func current(info *jetstream.StreamInfo) bool {
	if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != info.Config.Replicas-1 {
		return false
	}
	for _, r := range info.Cluster.Replicas {
		if !r.Current || r.Offline || r.Lag > 0 {
			return false
		}
	}
	return true
}

// events reads every event of the stream, in stream order.
func (c *checker) events(ctx context.Context) ([]streams.Event, error) {
	if err := c.waitCurrent(ctx, streams.DefaultEventStream); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	var all []streams.Event
	for ev, err := range c.store.ReadAll(rctx, 1, "") {
		if err != nil {
			return nil, fmt.Errorf("chaos: read the event stream: %w", err)
		}
		all = append(all, ev)
	}
	return all, nil
}

// onLeader reports whether the stream's leader holds, at seq, the event
// that the reply of cmd announced: the last word on an event a read from a
// replica did not show.
func (c *checker) onLeader(ctx context.Context, seq uint64, cmd *Command, version uint64) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, ok, err := streams.GetFromLeader(ctx, c.js, streams.DefaultEventStream, seq, "")
	if err != nil || !ok {
		return false
	}
	evs, err := streams.DecodeEvents(m.Subject, m.Header, m.Data, m.Sequence)
	return err == nil && slices.ContainsFunc(evs, func(ev streams.Event) bool { return announced(ev, cmd, version) })
}

// announced reports whether ev is the event a reply to cmd announced.
func announced(ev streams.Event, cmd *Command, version uint64) bool {
	return ev.Metadata.CorrelationID == cmd.ID && ev.AggregateID == cmd.Aggregate && ev.Version == version
}

// checkCommands fills r's command figures: acknowledged commands whose
// events are missing, commands applied twice or written though refused,
// races with two winners, version gaps and events nobody sent.
func (c *checker) checkCommands(ctx context.Context, run string, hist *History, all []streams.Event, r *Report) {
	byCorrelation := map[string][]streams.Event{}
	bySeq := map[uint64][]streams.Event{}
	byAggregate := map[string][]streams.Event{}
	for _, ev := range all {
		if !strings.HasPrefix(ev.AggregateID, run+"-") {
			continue // another phase's
		}
		r.Events++
		byCorrelation[ev.Metadata.CorrelationID] = append(byCorrelation[ev.Metadata.CorrelationID], ev)
		// One commit (one stream sequence) may hold several events.
		bySeq[ev.Sequence] = append(bySeq[ev.Sequence], ev)
		byAggregate[ev.AggregateID] = append(byAggregate[ev.AggregateID], ev)
	}
	cmds := hist.Commands()
	sent := map[string]bool{}
	pairs := map[int][]*Command{}
	for _, cmd := range cmds {
		sent[cmd.ID] = true
		r.Commands++
		switch cmd.Outcome {
		case Acked:
			r.Acked++
		case Refused:
			r.Refused++
		case AppliedEarlier:
			r.AppliedEarlier++
		case Unknown:
			r.Unknown++
			switch {
			case cmd.Settled == AppliedEarlier:
				r.AppliedEarlier++
				r.UnknownApplied++
			case cmd.Settled == Acked && cmd.SettleReply.Duplicate:
				r.UnknownApplied++
			case cmd.Settled == Acked:
				r.UnknownAppliedOnResend++
			case cmd.Settled == Refused:
				r.UnknownRefused++
			default:
				r.UnknownStill++
			}
		}
		if cmd.Pair > 0 {
			pairs[cmd.Pair] = append(pairs[cmd.Pair], cmd)
		}
		written := byCorrelation[cmd.ID]
		if len(written) > 1 {
			r.AppliedTwice++
			r.problem("command %s (%s %s) applied %d times: stream sequences %v", cmd.ID, cmd.Name, cmd.Aggregate, len(written), sequences(written))
		}
		if reply, ok := cmd.acked(); ok {
			if !slices.ContainsFunc(bySeq[reply.Sequence], func(ev streams.Event) bool { return announced(ev, cmd, reply.Version) }) {
				if c.onLeader(ctx, reply.Sequence, cmd, reply.Version) {
					r.StaleReads++
				} else {
					r.Lost++
					r.problem("command %s (%s %s) acknowledged as version %d at sequence %d: no such event (its events: %v)",
						cmd.ID, cmd.Name, cmd.Aggregate, reply.Version, reply.Sequence, sequences(written))
				}
			}
		}
		if (cmd.Outcome == AppliedEarlier || cmd.Settled == AppliedEarlier) && len(written) == 0 {
			r.Lost++
			r.problem("command %s (%s %s) answered as applied earlier (%s) but none of its events is stored", cmd.ID, cmd.Name, cmd.Aggregate, cmd.Message)
		}
		if cmd.Outcome == Refused && len(written) > 0 {
			r.RefusedButWritten++
			r.problem("command %s (%s %s) refused (%d %s) but written at %v", cmd.ID, cmd.Name, cmd.Aggregate, cmd.Status, cmd.Message, sequences(written))
		}
	}
	for id, evs := range byCorrelation {
		if !sent[id] {
			r.Foreign += len(evs)
			r.problem("events %v carry correlation id %q, which no client sent", sequences(evs), id)
		}
	}
	for _, pair := range pairs {
		r.Races++
		winners := 0
		for _, cmd := range pair {
			reply, acked := cmd.acked()
			if len(byCorrelation[cmd.ID]) > 0 || (acked && !reply.Duplicate) {
				winners++
			}
		}
		if winners > 1 {
			r.DoubleWinners++
			r.problem("race of %s and %s on %s (expected version %d): both won", pair[0].ID, pair[len(pair)-1].ID, pair[0].Aggregate, *pair[0].Expected)
		}
	}
	for id, evs := range byAggregate {
		r.Aggregates++
		for i, ev := range evs {
			if ev.Version != uint64(i+1) {
				r.VersionGaps++
				r.problem("aggregate %s: event %d of the stream (sequence %d) has version %d", id, i+1, ev.Sequence, ev.Version)
				break
			}
		}
	}
}

func sequences(evs []streams.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Sequence
	}
	return out
}

// checkReadModel replays the read model's projection from the first event
// into a fresh bucket, with the same projection runner serve uses, and
// compares it, record by record, with the read model serve built through
// the faults.
func (c *checker) checkReadModel(ctx context.Context, phase string, all []streams.Event, r *Report) error {
	var last uint64
	prefix := strings.TrimSuffix(c.readModel.Subjects[0], ">")
	for _, ev := range all {
		if strings.HasPrefix(c.store.Subject(ev.AggregateType, ev.AggregateID), prefix) {
			last = ev.Sequence
		}
	}
	pcfg := projections.Config{Streams: streams.Config{Replicas: c.replicas}}
	admin, err := projections.NewAdmin(ctx, c.nc, pcfg)
	if err != nil {
		return err
	}
	live, at, err := c.caughtUp(ctx, admin, c.readModel.Name, last)
	if errors.Is(err, errBehind) {
		// A finding, not a failure of the harness: the read model stopped
		// short of the stream.
		r.ReadModelBehind = last - at
		r.problem("%v", err)
		if c.onStall != nil {
			c.onStall()
		}
		return nil
	}
	if err != nil {
		return err
	}
	r.ProjectionUnacked = live.Pending
	replay := c.readModel
	replay.Name = "chaos_replay_" + strings.ToLower(strings.ReplaceAll(phase, "-", "_"))
	replay.Bucket = ""
	runner, err := projections.NewRunner(c.nc, pcfg, []projections.Projection{replay}, projections.WithLogger(c.log))
	if err != nil {
		return err
	}
	if err := runner.Start(ctx); err != nil {
		return fmt.Errorf("chaos: start the replay: %w", err)
	}
	fresh, _, err := c.caughtUp(ctx, admin, replay.Name, last)
	_ = runner.Stop(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer c.dropReplay(context.WithoutCancel(ctx), fresh)
	a, err := c.records(ctx, live.Bucket)
	if err != nil {
		return err
	}
	b, err := c.records(ctx, fresh.Bucket)
	if err != nil {
		return err
	}
	r.ReadModelRecords = len(a)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	for _, k := range sorted {
		va, inA := a[k]
		vb, inB := b[k]
		switch {
		case !inA:
			r.ReadModelDiffs++
			r.problem("read model %s: record %s missing (the replay has %s)", live.Bucket, k, vb)
		case !inB:
			r.ReadModelDiffs++
			r.problem("read model %s: record %s that a replay does not make: %s", live.Bucket, k, va)
		case !bytes.Equal(va, vb):
			r.ReadModelDiffs++
			r.problem("read model %s: record %s is %s, a replay makes %s", live.Bucket, k, va, vb)
		}
	}
	return nil
}

// errBehind is returned when a read model has not applied every event
// within verifyWait.
var errBehind = errors.New("chaos: read model behind")

// caughtUp waits until the projection's active generation holds every
// event up to last: its checkpoint record (what queries' min_sequence
// waits for) is at last or beyond. It returns that generation; on
// errBehind, with how far its checkpoint got.
func (c *checker) caughtUp(ctx context.Context, admin *projections.Admin, name string, last uint64) (projections.GenerationReport, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	var (
		rep projections.Report
		at  uint64
		err error
	)
	for {
		if rep, err = admin.Report(ctx, name); err == nil && rep.Active.ConsumerExists {
			if at, err = c.checkpoint(ctx, rep.Active.Bucket); err == nil && at >= last {
				if err = c.waitCurrent(ctx, "KV_"+rep.Active.Bucket); err == nil {
					return rep.Active, at, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			st := "no status"
			if s := rep.Active.Status; s != nil {
				st = fmt.Sprintf("state %s, last applied %d, lag %d, error %q, updated %s", s.State, s.LastApplied, s.Lag, s.Error,
					s.UpdatedAt.Format(time.RFC3339))
			}
			return rep.Active, at, fmt.Errorf("%w: %s at checkpoint %d of %d after %s (consumer %s: ack floor %d, %d pending; %s; lease %q; last error: %v)",
				errBehind, name, at, last, c.wait, rep.Active.Consumer, rep.Active.AckFloor, rep.Active.Pending, st, rep.Active.LeaseHolder, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkpoint reads the stream sequence a read model's bucket says it
// holds (0 before the first batch).
func (c *checker) checkpoint(ctx context.Context, bucket string) (uint64, error) {
	kv, err := c.js.KeyValue(ctx, bucket)
	if err != nil {
		return 0, err
	}
	e, err := kv.Get(ctx, projections.CheckpointKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var cp struct {
		Sequence uint64 `json:"sequence"`
	}
	if err := json.Unmarshal(e.Value(), &cp); err != nil {
		return 0, fmt.Errorf("chaos: checkpoint of %s: %w", bucket, err)
	}
	return cp.Sequence, nil
}

// records reads every record of a read model's bucket (the checkpoint
// left out: it is the runner's, not a record).
func (c *checker) records(ctx context.Context, bucket string) (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	kv, err := c.js.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("chaos: bucket %s: %w", bucket, err)
	}
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("chaos: read bucket %s: %w", bucket, err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string][]byte{}
	for {
		select {
		case e := <-w.Updates():
			if e == nil { // every current value has been sent
				return out, nil
			}
			if !strings.HasPrefix(e.Key(), "_jetflow.") {
				out[e.Key()] = e.Value()
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("chaos: read bucket %s: %w", bucket, ctx.Err())
		}
	}
}

// dropReplay removes the replay's bucket and consumer: the next phase
// replays into its own.
func (c *checker) dropReplay(ctx context.Context, g projections.GenerationReport) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := errors.Join(c.js.DeleteKeyValue(ctx, g.Bucket), c.js.DeleteConsumer(ctx, streams.DefaultEventStream, g.Consumer))
	if err != nil {
		c.log.Warn("chaos: remove the replay", "bucket", g.Bucket, "consumer", g.Consumer, "error", err)
	}
}
