package jetflowtest_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jetflow/jetflow/jetflowtest"
)

// The tests of this file count goroutines, so none runs in parallel: no
// other test's server or app may run while they count (parallel tests
// start only once every sequential one has ended).

// TestRunAppLeavesNothingBehind runs an app in a subtest with the
// temporary dirs redirected to a dir of its own, and checks, once the
// subtest's cleanup ran, that no goroutine of nats-server, nats.go or
// jetflow is left and that the temporary dir is empty again.
func TestRunAppLeavesNothingBehind(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	before := platformGoroutines()
	t.Run("app", func(t *testing.T) {
		app := jetflowtest.RunApp(t, accountApp())
		reply := app.MustSend("account.open", Open{ID: "a1", Owner: "ada"})
		var s Summary
		if err := app.Query("accounts.get", GetAccount{ID: "a1", MinSequence: reply.Sequence}, &s); err != nil || s.Owner != "ada" {
			t.Fatalf("accounts.get a1 = %+v, %v", s, err)
		}
		app.WaitCaughtUp("accounts")
		if len(platformGoroutines()) <= len(before) {
			t.Fatal("no goroutine of the app seen while it runs: the check below would prove nothing")
		}
		if locks := storeLocks(t, tmp); len(locks) != 1 {
			t.Fatalf("store locks below %s while the app runs: %q, want the app's one: the check below would prove nothing", tmp, locks)
		}
	})
	waitGoroutinesGone(t, len(before))
	if left := filesBelow(t, tmp); len(left) > 0 {
		t.Errorf("left in the temporary dir after cleanup:\n%s", strings.Join(left, "\n"))
	}
}

// TestStartServerLeavesNothingBehind starts a server without a test to
// own it, uses it, closes it, and checks that its goroutines, its
// clients' and its temporary store dir are gone once Close returns.
func TestStartServerLeavesNothingBehind(t *testing.T) {
	before := platformGoroutines()
	srv, err := jetflowtest.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	dir := srv.StoreDir()
	t.Run("use", func(t *testing.T) { useServer(t, srv) }) // its clients close with the subtest
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatalf("store dir while running: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if srv.NATS().Running() {
		t.Error("server runs after Close")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store dir %s after Close: %v, want it gone", dir, err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	waitGoroutinesGone(t, len(before))
}

// waitGoroutinesGone waits until no more goroutines of nats-server,
// nats.go or jetflow run than the want that ran before, and fails the
// test with their stacks when some are still there after 10s.
func waitGoroutinesGone(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := platformGoroutines()
		if len(left) <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after cleanup %d goroutines of nats-server, nats.go or jetflow run (%d before):\n%s", len(left), want, strings.Join(left, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// platformGoroutines returns the stacks of the goroutines, other than the
// caller's, running code of nats-server, nats.go or a jetflow package
// (not a test package: a test waiting to run in parallel is no leak).
func platformGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i > 0 && runsPlatformCode(g) { // the first is the caller's
			out = append(out, g)
		}
	}
	return out
}

// runsPlatformCode reports whether a goroutine's stack has a frame of
// nats-server, nats.go or a jetflow package other than a test package.
func runsPlatformCode(stack string) bool {
	for line := range strings.Lines(stack) {
		fn := strings.TrimPrefix(strings.TrimSpace(line), "created by ")
		switch {
		case strings.HasPrefix(fn, "github.com/nats-io/nats-server/"), strings.HasPrefix(fn, "github.com/nats-io/nats.go"):
			return true
		case strings.HasPrefix(fn, "github.com/jetflow/jetflow"):
			fn, _, _ = strings.Cut(fn, "(")
			slash := strings.LastIndex(fn, "/")
			pkg, _, _ := strings.Cut(fn[slash+1:], ".")
			if !strings.HasSuffix(pkg, "_test") {
				return true
			}
		}
	}
	return false
}

// storeLocks lists the JetStream store locks below dir.
func storeLocks(t *testing.T, dir string) []string {
	t.Helper()
	var locks []string
	for _, f := range filesBelow(t, dir) {
		if filepath.Base(f) == "jetflow.lock" {
			locks = append(locks, f)
		}
	}
	return locks
}

// filesBelow lists every file and dir below dir.
func filesBelow(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}
