//go:build unix

package processes_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow/internal/natstest"
	"github.com/jetflow/jetflow/processes"
	"github.com/jetflow/jetflow/processes/testdata/twoserve/tally"
	"github.com/jetflow/jetflow/streams"
)

// Issue 13: two `serve` OS processes of one user's binary (built from
// testdata/twoserve with the public API), on one NATS server, share 1,000
// events of 50 instances of one process manager, and every instance ends
// exactly as a serial run of the same events leaves it: no state update is
// lost, none is applied twice. Both processes must have handled events,
// or the test proves nothing and fails.
func TestTwoServeProcessesLoseNoStateUpdate(t *testing.T) {
	natstest.SkipIfShort(t)
	t.Parallel()
	const (
		instances = 50
		events    = 1000
		writers   = 10 // concurrent appenders, each owning instances/writers instances
	)
	began := time.Now()
	bin := buildTwoServe(t)
	srv := natstest.RunServer(t)
	// Both start at once: they provision the event store, the bucket and
	// the durable consumer side by side, as two replicas of a deployment
	// do.
	serves := make([]*serveProc, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"a", "b"} {
		wg.Go(func() { serves[i] = startServe(t, bin, srv.URL, name) })
	}
	wg.Wait()
	for _, s := range serves {
		if s == nil {
			t.FailNow() // startServe reported why
		}
	}
	ready := time.Now()

	_, js := srv.JetStream(t)
	store, err := streams.NewStore(js, streams.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// Event i (n = i) goes to instance c-<i mod 50>: an instance's 20
	// events are spread over the whole run, and each batch the processes
	// pull holds two or more of each instance, so the two processes
	// handle one instance at the same moment often.
	stored := make([][]streams.Event, writers)
	ctx := ctxFor(t, 2*time.Minute)
	for w := range writers {
		wg.Go(func() {
			pos := map[string]streams.Position{}
			for i := w; i < events; i += writers {
				id := fmt.Sprintf("c-%d", i%instances)
				data, _ := json.Marshal(tally.Added{N: i})
				res, err := store.Append(ctx, tally.AggregateType, id, pos[id], streams.Event{Type: tally.EventAdded, Data: data})
				if err != nil {
					t.Errorf("append %s: %v", id, err)
					return
				}
				pos[id] = res.Position()
				stored[w] = append(stored[w], res.Events...)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	published := time.Now()

	// The serial run: every event in stream order, one at a time.
	all := slices.Concat(stored...)
	slices.SortFunc(all, func(a, b streams.Event) int { return cmp.Compare(a.Sequence, b.Sequence) })
	sim, err := processes.NewSimulation(tally.Definition(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	eventIDs := map[string][]string{} // instance → its events' ids
	for _, ev := range all {
		if _, err := sim.Event(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		eventIDs[ev.AggregateID] = append(eventIDs[ev.AggregateID], ev.ID)
	}

	// Done once the durable consumer the two processes share has every
	// event acknowledged (a process acks an event after its step is
	// stored): then the records are final, whatever they hold.
	bucket := processes.Bucket(tally.Name)
	last := all[len(all)-1].Sequence
	deadline := time.Now().Add(45 * time.Second)
	for {
		done, why := acked(ctx, js, last)
		if done {
			break
		}
		if time.Now().After(deadline) {
			for _, s := range serves {
				t.Logf("serve %s:\n%s", s.name, s.logs.String())
			}
			t.Fatalf("events not all handled after 45s: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
	handled := time.Now()

	// Every instance as the serial run left it. Only the first few that
	// differ are shown in full.
	var wrong []string
	for i := range instances {
		id := fmt.Sprintf("c-%d", i)
		if msg := compareInstance(ctx, js, bucket, id, sim, eventIDs[id]); msg != "" {
			wrong = append(wrong, id)
			if len(wrong) <= 5 {
				t.Errorf("%s: %s", id, msg)
			}
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d of %d instances differ from the serial run: %v", len(wrong), instances, wrong)
	}

	// Who did the work: each process's own metrics.
	var total, conflicts float64
	var report []string
	for _, s := range serves {
		m := s.metrics(t)
		n := m[`jetflow_process_messages_handled_total{kind="event",process="tally"}`]
		c := m[`jetflow_process_state_conflicts_total{process="tally"}`]
		total, conflicts = total+n, conflicts+c
		report = append(report, fmt.Sprintf("serve %s handled %.0f events, %.0f compare-and-set conflicts decided again, %.0f skipped as duplicates, %.0f failures",
			s.name, n, c, m[`jetflow_process_messages_skipped_total{process="tally",reason="duplicate"}`], m[`jetflow_process_failures_total{process="tally"}`]))
		if n == 0 {
			t.Errorf("serve %s handled no event: the other one did all the work, so this run proves nothing about two processes", s.name)
		}
	}
	if total != events {
		t.Errorf("the two processes handled %.0f events between them, want %d", total, events)
	}
	if conflicts == 0 {
		t.Errorf("no compare-and-set conflict: the two processes never wrote one instance in turn, so this run did not exercise what it tests")
	}
	for _, r := range report {
		t.Log(r)
	}

	// Both shut down cleanly on SIGTERM.
	for _, s := range serves {
		wg.Go(func() {
			if err := s.stop(); err != nil {
				t.Errorf("serve %s on SIGTERM: %v\n%s", s.name, err, s.logs.String())
			}
		})
	}
	wg.Wait()
	t.Logf("build and start %s, publish %s, handle %s, check and stop %s",
		ready.Sub(began).Round(time.Millisecond), published.Sub(ready).Round(time.Millisecond),
		handled.Sub(published).Round(time.Millisecond), time.Since(handled).Round(time.Millisecond))
}

// compareInstance compares instance id's record with the serial run's:
// "" when they agree, else what differs.
func compareInstance(ctx context.Context, js jetstream.JetStream, bucket, id string, sim *processes.Simulation[tally.State], eventIDs []string) string {
	rec, err := processes.Show(ctx, js, bucket, id)
	if err != nil {
		return err.Error()
	}
	want, ok := sim.Instance(id)
	if !ok {
		return "not in the serial run"
	}
	var got tally.State
	if err := json.Unmarshal(rec.State, &got); err != nil {
		return fmt.Sprintf("state %s: %v", rec.State, err)
	}
	if !reflect.DeepEqual(got, want.State) || rec.Steps != want.Steps {
		return fmt.Sprintf("two processes left %+v after %d steps; the serial run %+v after %d: %s",
			got, rec.Steps, want.State, want.Steps, diffValues(got.Values, want.State.Values))
	}
	// Each of its events handled once (20 events: within the record's
	// history of 32), and nothing left to do.
	var ids []string
	for _, h := range rec.Handled {
		ids = append(ids, h.ID)
	}
	slices.Sort(ids)
	if rec.Status != processes.StatusRunning || len(rec.Pending) != 0 || !slices.Equal(ids, slices.Sorted(slices.Values(eventIDs))) {
		return fmt.Sprintf("status %s, %d effects pending, handled %d events, want running, none pending, its %d events each once",
			rec.Status, len(rec.Pending), len(ids), len(eventIDs))
	}
	return ""
}

// acked says whether the processes' consumer has acknowledged every event
// up to stream sequence last, and if not, where it is.
func acked(ctx context.Context, js jetstream.JetStream, last uint64) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, streams.DefaultEventStream, processes.ConsumerPrefix+tally.Name)
	if err != nil {
		return false, fmt.Sprintf("consumer: %v", err)
	}
	info := c.CachedInfo()
	return info.AckFloor.Stream >= last && info.NumAckPending == 0,
		fmt.Sprintf("consumer acknowledged up to sequence %d of %d, %d unacknowledged, %d redelivered",
			info.AckFloor.Stream, last, info.NumAckPending, info.NumRedelivered)
}

// diffValues says which values one list has that the other lacks.
func diffValues(got, want []int) string {
	count := map[int]int{}
	for _, v := range got {
		count[v]++
	}
	for _, v := range want {
		count[v]--
	}
	var lost, twice []int
	for v, c := range count {
		switch {
		case c < 0:
			lost = append(lost, v)
		case c > 0:
			twice = append(twice, v)
		}
	}
	slices.Sort(lost)
	slices.Sort(twice)
	return fmt.Sprintf("lost %v, extra %v", lost, twice)
}

// buildTwoServe builds the test's binary as a user builds theirs, with
// the race detector when this test has it.
func buildTwoServe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "twoserve")
	args := []string{"build", "-o", bin}
	if twoserveRace {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "./testdata/twoserve")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./testdata/twoserve: %v\n%s", err, out)
	}
	return bin
}

// serveProc is one `twoserve serve` process.
type serveProc struct {
	name    string
	cmd     *exec.Cmd
	addr    string // of /metrics
	logs    *syncBuffer
	exited  chan struct{}
	waitErr error
	served  bool // it started serving: exiting is a failure from then on
	once    sync.Once
	stopErr error
}

// startServe runs `serve` of bin against the NATS server at url, with a
// jetflow.tsk of its own (no embedded server, its own metrics address),
// and returns it once it serves; t.Cleanup stops it. It reports a failure
// with t.Errorf and returns nil, so that it may run in a goroutine.
func startServe(t *testing.T, bin, url, name string) *serveProc {
	// A free address may be taken by another test before serve listens
	// on it: then serve exits, and starts again on another.
	for attempt := 1; ; attempt++ {
		s, err := tryServe(t, bin, url, name)
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(s.logs.String(), "address already in use") {
			t.Errorf("serve %s: %v\n%s", name, err, s.logs.String())
			return nil
		}
	}
}

func tryServe(t *testing.T, bin, url, name string) (*serveProc, error) {
	dir := t.TempDir()
	s := &serveProc{name: name, addr: natstest.FreeAddr(t), logs: &syncBuffer{}, exited: make(chan struct{})}
	conf := fmt.Sprintf(`# serve %s of the two-serve test
[nats]
url: %q

[server]
embedded: false

[metrics]
listen: %q

[log]
level: "info"

[processes.tally]
concurrency: 16
`, name, url, s.addr)
	if err := os.WriteFile(filepath.Join(dir, "jetflow.tsk"), []byte(conf), 0o600); err != nil {
		return s, err
	}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Dir = dir
	// The file alone configures it: no JETFLOW_* of this environment.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "JETFLOW_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Env = append(s.cmd.Env, "JETFLOW_CONFIG="+filepath.Join(dir, "jetflow.tsk"))
	if os.Getenv("GORACE") == "" {
		// A race detector's report, if any, is in the logs; no second at exit.
		s.cmd.Env = append(s.cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return s, err
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		if err := s.stop(); err != nil && s.served && !t.Failed() {
			t.Errorf("serve %s: %v\n%s", name, err, s.logs.String())
		}
	})
	// Ready once every part started: the line serve logs then.
	deadline := time.After(30 * time.Second)
	for !strings.Contains(s.logs.String(), `msg="jetflow serving"`) {
		select {
		case <-s.exited:
			return s, fmt.Errorf("exited before it served: %v", s.waitErr)
		case <-deadline:
			return s, errors.New("not serving after 30s")
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.served = true
	return s, nil
}

// stop sends SIGTERM and waits for the process to exit: an error when it
// does not exit with status 0 within 20s (then it is killed).
func (s *serveProc) stop() error {
	s.once.Do(func() {
		select {
		case <-s.exited:
			s.stopErr = fmt.Errorf("exited on its own: %v", s.waitErr)
			return
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			s.stopErr = err
		}
		select {
		case <-s.exited:
			if s.waitErr != nil {
				s.stopErr = s.waitErr
			}
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = errors.New("still running 20s after SIGTERM: killed")
		}
	})
	return s.stopErr
}

// metrics reads the process's /metrics: each sample by its name and
// labels as the text format writes them.
func (s *serveProc) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	code, body, err := natstest.HTTPGet("http://" + s.addr + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("serve %s: /metrics: %d %v", s.name, code, err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a bytes.Buffer that a process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
