package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetflow/jetflow"
	"github.com/jetflow/jetflow/client"
	"github.com/jetflow/jetflow/consumers"
	"github.com/jetflow/jetflow/examples/users"
	"github.com/jetflow/jetflow/wire"
)

// The browser test drives the console in headless Chromium against a real
// `serve` (the users example, a topic whose worker refuses a job until it
// is replayed) on an embedded server: log in, send a command from the
// form, find the aggregate and its events, rebuild the users projection
// and watch it reach 100 %, replay a dead letter. It saves a screenshot of
// each page into $CONSOLE_SCREENSHOTS_DIR, or a temporary directory
// (not JETFLOW_*: those are configuration keys, and serve refuses one it
// does not know).
//
// Chromium is found on PATH (chromium, chromium-browser, google-chrome) or
// at $CHROMIUM_PATH. Without one the test is skipped, saying so, except
// under CI (CI set), where .ci/run installs Chromium and a missing browser
// is a failure: the test is skipped there only when .ci/run found no way
// to install one and says why ($CONSOLE_NO_BROWSER).

const consoleToken = "browser-test-token-0123456789"

func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if why := os.Getenv("CONSOLE_NO_BROWSER"); why != "" {
		t.Skip("browser test skipped: " + why) // .ci/run could not install one
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH under CI: .ci/run installs it (apt-get install -y chromium); the browser test must run here")
	}
	t.Skip("browser test skipped: no Chromium on PATH (install it, e.g. apt-get install -y chromium, or set CHROMIUM_PATH)")
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuffer collects serve's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveWithConsole runs the users example with a job topic on an App with
// the console on, until the test ends.
func serveWithConsole(t *testing.T, logs *lockedBuffer, replayed *atomic.Int32) jetflow.Started {
	t.Helper()
	app := jetflow.New()
	users.Register(app)
	app.Topic(consumers.TopicConfig{Name: "jobs"})
	app.Worker("runner", func(jetflow.Runtime) consumers.Subscription {
		return consumers.Subscription{Topic: "jobs", MaxRetries: consumers.NoRetries, Handler: func(_ context.Context, m *consumers.Message) error {
			if m.Header().Get(wire.HeaderReplayedFrom) == "" {
				return consumers.Permanent(fmt.Errorf("job %s: the printer is out of paper", m.Data()))
			}
			replayed.Add(1)
			return nil
		}}
	})
	ready := make(chan jetflow.Started, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx,
			jetflow.WithConfigFile(""),
			jetflow.WithSetting("server.listen", "127.0.0.1:-1"),
			jetflow.WithSetting("server.store_dir", t.TempDir()),
			jetflow.WithSetting("metrics.listen", freeAddr(t)),
			jetflow.WithSetting("console.enabled", "true"),
			jetflow.WithSetting("console.token", consoleToken),
			jetflow.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))),
			jetflow.OnReady(func(s jetflow.Started) { ready <- s }),
		)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case s := <-ready:
		return s
	case err := <-done:
		done <- err
		t.Fatalf("serve ended before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve not ready after 30s")
	}
	return jetflow.Started{}
}

func TestConsoleInABrowser(t *testing.T) {
	t.Parallel()
	chromium := findChromium(t)
	shots := os.Getenv("CONSOLE_SCREENSHOTS_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	var replayed atomic.Int32
	started := serveWithConsole(t, logs, &replayed)
	if started.ConsoleURL != "http://"+started.MetricsAddr+"/ui/" {
		t.Fatalf("console at %q, want it beside the metrics at %s", started.ConsoleURL, started.MetricsAddr)
	}
	nc, err := nats.Connect(started.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	// The whole walk is bounded: a browser that hangs fails the test, it
	// does not hold the suite.
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
	)...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // starts the browser, outside any deadline
		t.Fatalf("start %s: %v", chromium, err)
	}
	ctx, cancel := context.WithTimeout(browser, 45*time.Second)
	t.Cleanup(cancel)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\nserve log:\n%s", what, err, logs.String())
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := started.ConsoleURL

	// Log in: the console asks for its token first.
	step("open the console", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#token")))
	shot("login")
	step("log in", chromedp.SendKeys(chromedp.CSS("#token"), consoleToken), chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#readiness")))

	// Send a command from the form; the reply and the event it wrote show.
	step("send user.create",
		chromedp.Navigate(base+"commands"), chromedp.WaitVisible(chromedp.CSS("#command-form")),
		chromedp.SetValue(chromedp.CSS("#command"), "user.create"),
		chromedp.SetValue(chromedp.CSS("#body"), `{"username":"ada","email":"ada@example.com"}`),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(chromedp.CSS("#reply")))
	var reply wire.CommandReply
	if err := json.Unmarshal([]byte(text("#reply")), &reply); err != nil || reply.AggregateID == "" || reply.Version != 1 {
		t.Fatalf("reply %q: %v", text("#reply"), err)
	}
	if ev := text("#events"); !strings.Contains(ev, "user.created") || !strings.Contains(ev, "ada@example.com") {
		t.Fatalf("the events the command wrote: %s", ev)
	}
	shot("commands")

	// Two more changes to the same user, as another client would send them.
	cl := client.New(nc)
	if _, err := cl.Send(ctx, "user.update", map[string]string{"id": reply.AggregateID, "email": "ada@lovelace.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Send(ctx, "user.change_status", map[string]string{"id": reply.AggregateID, "status": "suspended"}); err != nil {
		t.Fatal(err)
	}

	// Find the aggregate with the search form: its state and events.
	step("find the user",
		chromedp.Navigate(base+"aggregates"), chromedp.WaitVisible(chromedp.CSS("#aggregate-search")),
		chromedp.SendKeys(chromedp.CSS("#agg-type"), "user"), chromedp.SendKeys(chromedp.CSS("#agg-id"), reply.AggregateID),
		chromedp.Click(chromedp.CSS("#find")), chromedp.WaitVisible(chromedp.CSS("#aggregate")))
	if st := text("#agg-state"); !strings.Contains(st, `"username": "ada"`) || !strings.Contains(st, `"status": "suspended"`) {
		t.Fatalf("state: %s", st)
	}
	if ev := text("#events"); !strings.Contains(ev, "user.created") || !strings.Contains(ev, "user.updated") || !strings.Contains(ev, "user.status_changed") {
		t.Fatalf("timeline: %s", ev)
	}
	step("follow the causation link", chromedp.Click(chromedp.CSS("a.causation")), chromedp.WaitVisible(chromedp.CSS("#all-events")))
	if h := text("#events-heading"); !strings.Contains(h, "written by command") {
		t.Fatalf("causation page heading: %q", h)
	}
	step("back to the aggregate", chromedp.Navigate(base+"aggregates?type=user&id="+reply.AggregateID), chromedp.WaitVisible(chromedp.CSS("#aggregate")))
	shot("aggregate")

	// Rebuild the users projection over a few hundred events and watch the
	// page's poll reach 100 %.
	for i := range 300 {
		if _, err := cl.Send(ctx, "user.create", map[string]string{"username": fmt.Sprintf("user%03d", i), "email": fmt.Sprintf("u%d@example.com", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The overview samples the process's metrics as it loads: this visit
	// shows the burst of commands on its chart.
	step("overview after the burst", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#readiness")))
	step("confirm a rebuild",
		chromedp.Navigate(base+"projections"), chromedp.WaitVisible(chromedp.CSS("#rebuild-users")))
	shot("projections")
	step("rebuild", chromedp.Click(chromedp.CSS("#rebuild-users")), chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#rebuild-bar")))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("rebuild-result").className === "ok"`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the rebuild never showed done: %v (phase %q, %s %%)", err, text("#rebuild-phase"), text("#rebuild-percent"))
	}
	// The page's script polled (it loaded under the page's CSP, and its
	// requests carried the session).
	if polled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("rebuild").hasAttribute("data-polled")`)); err != nil || !polled {
		t.Fatalf("the rebuild page's script never polled its progress (%v)", err)
	}
	if p, done := text("#rebuild-percent"), text("#rebuild-done"); p != "100" || done != "303" {
		t.Fatalf("finished rebuild shows %s %% of %s events, want 100 %% of 303", p, done)
	}
	shot("rebuild")

	// A job the worker refuses: find its dead letter, dry-run its replay,
	// then replay it; the worker handles it and the queue is empty again.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consumers.NewPublisher(js).Publish(ctx, "jobs", consumers.Outgoing{Key: "print", Data: []byte(`{"pages":3}`)}); err != nil {
		t.Fatal(err)
	}
	for found := false; !found; {
		step("open the dead letters", chromedp.Navigate(base+"dlq"), chromedp.WaitVisible(chromedp.CSS("#dead-letters")))
		if found, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("input.pick") !== null`)); err != nil {
			t.Fatal(err)
		}
		if !found {
			time.Sleep(200 * time.Millisecond) // the advisory is on its way to the DLQ
		}
	}
	if r := text("#dead-letters"); !strings.Contains(r, "out of paper") || !strings.Contains(r, "runner") {
		t.Fatalf("dead letters: %s", r)
	}
	shot("dlq")
	step("inspect it", chromedp.Click(chromedp.CSS("#dead-letters td a")), chromedp.WaitVisible(chromedp.CSS("#payload")))
	if p := text("#payload"); !strings.Contains(p, `"pages": 3`) {
		t.Fatalf("payload: %s", p)
	}
	shot("deadletter")
	step("select it in the list and dry-run its replay",
		chromedp.Navigate(base+"dlq"), chromedp.WaitVisible(chromedp.CSS("#select-all")),
		chromedp.Click(chromedp.CSS("#select-all")), chromedp.Click(chromedp.CSS("#replay-selected")),
		chromedp.WaitVisible(chromedp.CSS("#replay-confirm")))
	if r := text("#replay-results"); !strings.Contains(r, "would replay") {
		t.Fatalf("dry run: %s", r)
	}
	shot("replay-dry-run")
	step("replay", chromedp.Click(chromedp.CSS("#replay-confirm")), chromedp.WaitVisible(chromedp.CSS("#replay-done")))
	if r := text("#replay-done"); !strings.Contains(r, "Replayed 1 of 1") {
		t.Fatalf("replay: %s", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for replayed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if replayed.Load() != 1 {
		t.Fatalf("the worker handled %d replays, want 1", replayed.Load())
	}
	step("the queue is empty", chromedp.Navigate(base+"dlq"), chromedp.WaitVisible(chromedp.CSS("#dead-letters")))
	if r := text("#dead-letters"); !strings.Contains(r, "No dead letters") {
		t.Fatalf("after the replay: %s", r)
	}

	// The processes page answers in a browser too (this domain runs none).
	step("processes", chromedp.Navigate(base+"processes"), chromedp.WaitVisible(chromedp.CSS("#processes")))
	shot("processes")

	// The overview: its rates and chart from the samples its visits took.
	step("overview", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#readiness")))
	if r := text("#commands-rate"); r == "" {
		t.Fatal("the overview shows no command rate")
	}
	shot("overview")

	for _, want := range []string{`action="send command"`, `action="projection rebuild"`, `action="dlq replay"`, "console login"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("serve's log lacks %s", want)
		}
	}
	t.Logf("screenshots in %s", shots)
}
