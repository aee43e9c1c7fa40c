package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/projections"
	"github.com/jetflow/jetflow/streams"
)

// startWait bounds the start of a subprocess until it is ready, and of the
// cluster's recovery after a fault.
const startWait = 90 * time.Second

// processes are the jetflow subprocesses of a target.
type processes struct {
	serves []*Process
	worker *Process
	hook   *Webhook
	log    *slog.Logger
}

// start starts p and says so, with its pid: whoever stops the harness
// knows what to look for.
func (ps *processes) start(p *Process) error {
	if err := p.Start(); err != nil {
		return err
	}
	ps.log.Info("chaos: started", "process", p.Name, "pid", p.PID())
	return nil
}

func (ps *processes) all() []*Process {
	return append(append([]*Process(nil), ps.serves...), ps.worker)
}

// startAll starts every process that does not run and waits until each
// is ready: the serves first (an embedded one is the worker's server).
func (ps *processes) startAll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	for _, group := range [][]*Process{ps.serves, {ps.worker}} {
		var started []*Process
		for _, p := range group {
			if p.Running() {
				continue
			}
			if err := ps.start(p); err != nil {
				return err
			}
			started = append(started, p)
		}
		for _, p := range started {
			if err := p.WaitReady(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// stop stops every process (SIGTERM, then SIGKILL) and the webhook.
func (ps *processes) stop() {
	for _, p := range ps.all() {
		if p != nil {
			_ = p.Stop(10 * time.Second)
		}
	}
	if ps.hook != nil {
		_ = ps.hook.Close()
	}
}

// crash SIGKILLs victims, waits down and starts them again, ready.
func (ps *processes) crash(ctx context.Context, down time.Duration, victims ...*Process) error {
	for _, p := range victims {
		p.Kill()
	}
	sleep(ctx, down)
	var errs []error
	for _, p := range victims {
		errs = append(errs, ps.start(p))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	for _, p := range victims {
		errs = append(errs, p.WaitReady(wctx))
	}
	return errors.Join(errs...)
}

func newServe(h *harness, name string, args ...string) (*Process, error) {
	metrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args = append([]string{"serve", "--metrics-listen", metrics, "--command-timeout", serveCommandTimeout.String(),
		"--log-format", "json"}, args...)
	return NewProcess(name, h.cfg.Binary, h.cfg.Dir, filepath.Join(h.cfg.Dir, "logs", name+".log"), metrics,
		childEnv(), args...), nil
}

func newWorker(h *harness, url string, replicas int, hook *Webhook) (*Process, error) {
	metrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return NewProcess("worker", h.cfg.Binary, h.cfg.Dir, filepath.Join(h.cfg.Dir, "logs", "worker.log"), metrics, childEnv(),
		"worker", "--nats-url", url, "--topic", Topic, "--name", Topic, "--create-topic", "--replicas", strconv.Itoa(replicas),
		"--webhook", hook.URL(), "--max-retries", "1000", "--metrics-listen", metrics, "--log-format", "json"), nil
}

// clusterTarget is the 3-node cluster with two serve processes sharing
// its commands and projections, and a worker on its topic.
type clusterTarget struct {
	h       *harness
	c       *Cluster
	nc      *nats.Conn
	js      jetstream.JetStream
	procs   processes
	closeLg func()
}

func startClusterTarget(ctx context.Context, h *harness) (_ *clusterTarget, err error) {
	t := &clusterTarget{h: h, procs: processes{log: h.log}}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	log, closeLog, err := serverLogger(h.cfg.Dir)
	if err != nil {
		return nil, err
	}
	t.closeLg = closeLog
	h.log.Info("chaos: starting a 3-node cluster", "dir", h.cfg.Dir, "sync", h.cfg.Sync.String())
	cctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	if t.c, err = StartCluster(cctx, filepath.Join(h.cfg.Dir, "cluster"), h.cfg.Sync, log); err != nil {
		return nil, err
	}
	if t.nc, err = t.c.ConnectAdmin(); err != nil {
		return nil, err
	}
	if t.js, err = jetstream.New(t.nc); err != nil {
		return nil, err
	}
	if t.procs.hook, err = StartWebhook(); err != nil {
		return nil, err
	}
	for i := range 2 {
		// Dead letters and the projections' buckets live on every node,
		// as the event stream does (docker-compose.yml's serves).
		s, err := newServe(h, "serve-"+strconv.Itoa(i+1), "--nats-url", t.c.URL(i), "--replicas", "3")
		if err != nil {
			return nil, err
		}
		s.env = append(s.env, "JETFLOW_DLQ_REPLICAS=3")
		t.procs.serves = append(t.procs.serves, s)
	}
	if t.procs.worker, err = newWorker(h, t.c.URL(2), 3, t.procs.hook); err != nil {
		return nil, err
	}
	h.log.Info("chaos: starting two serves and a worker", "binary", h.cfg.Binary)
	if err = t.procs.startAll(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *clusterTarget) clientURL(i int) string { return t.c.URL(i) }
func (t *clusterTarget) admin() *nats.Conn      { return t.nc }
func (t *clusterTarget) replicas() int          { return ClusterSize }
func (t *clusterTarget) webhook() *Webhook      { return t.procs.hook }
func (t *clusterTarget) serves() []*Process     { return t.procs.serves }

func (t *clusterTarget) inject(ctx context.Context, kind Kind, n int) (string, error) {
	down := t.h.cfg.Down
	switch kind {
	case KindLeader:
		what, node, err := t.leaderOf(ctx, n)
		if err != nil {
			return "", err
		}
		t.c.Stop(node)
		sleep(ctx, down)
		if err := t.c.Restart(node); err != nil {
			return what, err
		}
		return fmt.Sprintf("%s: node %s stopped for %s", what, t.c.Name(node), down), t.waitCluster(ctx)
	case KindCrash:
		victims := []*Process{t.procs.serves[n%2]}
		if n%2 == 1 {
			victims = append(victims, t.procs.worker)
		}
		what := "SIGKILL " + victims[0].Name
		if len(victims) > 1 {
			what += " and the worker"
		}
		return what + " for " + down.String(), t.procs.crash(ctx, down, victims...)
	case KindPartition:
		node, why := n%ClusterSize, "node"
		if n%2 == 0 {
			if name, err := t.leader(ctx, streams.DefaultEventStream, ""); err == nil {
				if i, ok := t.c.NodeIndex(name); ok {
					node, why = i, "EVENTS leader"
				}
			}
		}
		t.c.Partition(node)
		sleep(ctx, down)
		t.c.Heal()
		return fmt.Sprintf("%s %s cut off from the others and its clients for %s", why, t.c.Name(node), down), t.waitCluster(ctx)
	}
	return "", fmt.Errorf("%w: %s is not a fault of the cluster", ErrInvalidConfig, kind)
}

// leaderOf picks the n-th fault's victim: in turn the leaders of the
// event stream, the snapshot bucket, the read model's bucket and the
// projection's consumer.
func (t *clusterTarget) leaderOf(ctx context.Context, n int) (string, int, error) {
	var what, stream, consumer string
	switch n % 4 {
	case 0:
		what, stream = "EVENTS leader", streams.DefaultEventStream
	case 1:
		what, stream = "snapshot bucket leader", "KV_"+streams.DefaultSnapshotBucket
	case 2, 3:
		admin, err := projections.NewAdmin(ctx, t.nc, projections.Config{Streams: streams.Config{Replicas: ClusterSize}})
		if err != nil {
			return "", -1, err
		}
		rep, err := admin.Report(ctx, t.h.cfg.ReadModel.Name)
		if err != nil {
			return "", -1, err
		}
		if n%4 == 2 {
			what, stream = "read model bucket leader", "KV_"+rep.Active.Bucket
		} else {
			what, stream, consumer = "projection consumer leader", streams.DefaultEventStream, rep.Active.Consumer
		}
	}
	name, err := t.leader(ctx, stream, consumer)
	if err != nil {
		return what, -1, err
	}
	i, ok := t.c.NodeIndex(name)
	if !ok {
		return what, -1, fmt.Errorf("chaos: %s %q is none of the nodes", what, name)
	}
	return what + " " + name, i, nil
}

// leader names the server leading stream (or its consumer), waiting out an
// election in progress.
func (t *clusterTarget) leader(ctx context.Context, stream, consumer string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		var cl *jetstream.ClusterInfo
		st, err := t.js.Stream(ctx, stream)
		if err == nil && consumer == "" {
			var info *jetstream.StreamInfo
			if info, err = st.Info(ctx); err == nil {
				cl = info.Cluster
			}
		} else if err == nil {
			var c jetstream.Consumer
			if c, err = st.Consumer(ctx, consumer); err == nil {
				var info *jetstream.ConsumerInfo
				if info, err = c.Info(ctx); err == nil {
					cl = info.Cluster
				}
			}
		}
		if cl != nil && cl.Leader != "" {
			return cl.Leader, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("chaos: no leader of %s %s: %v (%w)", stream, consumer, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (t *clusterTarget) waitCluster(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	return t.c.WaitReady(ctx)
}

func (t *clusterTarget) recover(ctx context.Context) error {
	t.c.Heal()
	if err := t.c.RestartAll(); err != nil {
		return err
	}
	if err := t.waitCluster(ctx); err != nil {
		return err
	}
	return t.procs.startAll(ctx)
}

func (t *clusterTarget) close() {
	t.procs.stop()
	if t.nc != nil {
		t.nc.Close()
	}
	if t.c != nil {
		t.c.Close()
	}
	if t.closeLg != nil {
		t.closeLg()
	}
}

// embeddedTarget is one serve running its embedded server on a store
// directory, and a worker connected to it.
type embeddedTarget struct {
	h     *harness
	url   string
	nc    *nats.Conn
	procs processes
}

func startEmbeddedTarget(ctx context.Context, h *harness, run int) (_ *embeddedTarget, err error) {
	t := &embeddedTarget{h: h, procs: processes{log: h.log}}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	t.url = "nats://" + listen
	name := "embedded-" + strconv.Itoa(run)
	args := []string{"--listen", listen, "--store-dir", filepath.Join(h.cfg.Dir, name)}
	if s := h.cfg.Sync.String(); s != "" {
		args = append(args, "--sync-interval", s)
	}
	s, err := newServe(h, name, args...)
	if err != nil {
		return nil, err
	}
	t.procs.serves = []*Process{s}
	if t.procs.hook, err = StartWebhook(); err != nil {
		return nil, err
	}
	if t.procs.worker, err = newWorker(h, t.url, 1, t.procs.hook); err != nil {
		return nil, err
	}
	h.log.Info("chaos: starting serve on its embedded server, and a worker", "binary", h.cfg.Binary, "sync", h.cfg.Sync.String())
	// The worker connects to the server serve embeds: serve first.
	if err = t.procs.startAll(ctx); err != nil {
		return nil, err
	}
	if t.nc, err = nats.Connect(t.url, nats.Name("jetflow-chaos-admin"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true)); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *embeddedTarget) clientURL(int) string { return t.url }
func (t *embeddedTarget) admin() *nats.Conn    { return t.nc }
func (t *embeddedTarget) replicas() int        { return 1 }
func (t *embeddedTarget) webhook() *Webhook    { return t.procs.hook }
func (t *embeddedTarget) serves() []*Process   { return t.procs.serves }

func (t *embeddedTarget) inject(ctx context.Context, _ Kind, _ int) (string, error) {
	s := t.procs.serves[0]
	return fmt.Sprintf("SIGKILL %s (its embedded server with it) for %s", s.Name, t.h.cfg.Down), t.procs.crash(ctx, t.h.cfg.Down, s)
}

func (t *embeddedTarget) recover(ctx context.Context) error { return t.procs.startAll(ctx) }

func (t *embeddedTarget) close() {
	if t.nc != nil {
		t.nc.Close()
	}
	t.procs.stop()
}
