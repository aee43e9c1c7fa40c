package jetflowtest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeT stands in for a test's *testing.T: it records what a fixture
// reports instead of failing the real test. Fatal stops the fixture's
// goroutine as a real Fatal does.
type fakeT struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  string
	failed bool
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) { f.record(fmt.Sprintf(format, args...)) }
func (f *fakeT) Error(args ...any)                 { f.record(fmt.Sprint(args...)) }
func (f *fakeT) Fail()                             { f.mu.Lock(); f.failed = true; f.mu.Unlock() }

func (f *fakeT) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal, f.failed = fmt.Sprintf(format, args...), true
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeT) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fakeT) FailNow()          { f.Fatalf("FailNow") }

func (f *fakeT) record(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, msg)
	f.failed = true
}

// report is everything the fixture reported, errors then the fatal one.
func (f *fakeT) report() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(append(append([]string{}, f.errors...), f.fatal), "\n")
}

// runFake runs fn on a fakeT in a goroutine of its own (Fatal ends it) and
// returns what it reported, and whether fn ran to its end.
func runFake(t *testing.T, fn func(t testing.TB)) (f *fakeT, completed bool) {
	t.Helper()
	f = &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
		completed = true
	}()
	<-done
	return f, completed
}

// mustContain fails t unless report holds every part, showing the report.
func mustContain(t *testing.T, report string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(report, p) {
			t.Errorf("report lacks %q; the report:\n%s", p, report)
		}
	}
}
