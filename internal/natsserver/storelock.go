package natsserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrStoreLocked is matched by the error of a start whose store dir another
// server holds: two servers writing one JetStream store hand out the same
// stream sequences and overwrite each other's acknowledged messages.
var ErrStoreLocked = errors.New("natsserver: store dir in use")

// StoreLockedError names the store dir and, as far as its lock file says,
// the process holding it.
type StoreLockedError struct {
	Dir string
	// PID, URL and Since come from the holder's lock file; zero when it
	// had not written them yet.
	PID   int
	URL   string
	Since time.Time
}

func (e *StoreLockedError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
		if e.PID == os.Getpid() {
			holder = "another server in this process"
		}
	}
	var details []string
	if e.URL != "" {
		details = append(details, "listening on "+e.URL)
	}
	if !e.Since.IsZero() {
		details = append(details, "since "+e.Since.UTC().Format(time.RFC3339))
	}
	if len(details) > 0 {
		holder += " (" + strings.Join(details, ", ") + ")"
	}
	return fmt.Sprintf("natsserver: store dir %s is in use by %s: stop it, or give this server another store dir", e.Dir, holder)
}

func (e *StoreLockedError) Unwrap() error { return ErrStoreLocked }

// lockFileName is the file in the store dir whose exclusive lock a server
// holds for its whole life. The kernel drops the lock when the process
// dies, so a crash (SIGKILL included) never leaves the store locked.
const lockFileName = "jetflow.lock"

// storeLock is one held lock.
type storeLock struct {
	file    *os.File
	release sync.Once
}

// held maps each running server to its store lock, so Stop can release it
// before it returns (a restart on the same dir follows at once in tests
// and in `serve`).
var held sync.Map // *server.Server → *storeLock

// lockStore takes the exclusive lock on dir, creating dir if needed.
func lockStore(dir string) (*storeLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("natsserver: store dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("natsserver: store dir %s: %w", dir, err)
	}
	locked, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("natsserver: lock store dir %s: %w", dir, err)
	}
	if !locked {
		f.Close()
		lerr := &StoreLockedError{Dir: dir}
		readHolder(path, lerr)
		return nil, lerr
	}
	l := &storeLock{file: f}
	l.describe("")
	return l, nil
}

// describe writes who holds the lock, for the error a second server gets.
// Best effort: the lock itself is what protects the store.
func (l *storeLock) describe(url string) {
	content := fmt.Sprintf("pid %d\nurl %s\nsince %s\n", os.Getpid(), url, time.Now().UTC().Format(time.RFC3339))
	if err := l.file.Truncate(0); err == nil {
		_, _ = l.file.WriteAt([]byte(content), 0)
	}
}

func (l *storeLock) unlock() {
	l.release.Do(func() {
		_ = unlock(l.file)
		l.file.Close()
	})
}

func readHolder(path string, into *StoreLockedError) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	for line := range strings.Lines(string(data)) {
		key, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch key {
		case "pid":
			into.PID, _ = strconv.Atoi(value)
		case "url":
			into.URL = value
		case "since":
			into.Since, _ = time.Parse(time.RFC3339, value)
		}
	}
}

// hold ties l to s: released when s has shut down, however it is shut down.
func hold(s *server.Server, l *storeLock) {
	held.Store(s, l)
	l.describe(s.ClientURL())
	go func() {
		s.WaitForShutdown()
		releaseFor(s)
	}()
}

func releaseFor(s *server.Server) {
	if l, ok := held.LoadAndDelete(s); ok {
		l.(*storeLock).unlock()
	}
}
