package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"
)

// ErrExited is returned when a process exits while it is waited for.
var ErrExited = errors.New("chaos: process exited")

// Process is a jetflow subprocess (serve or worker) that the harness
// starts, kills with SIGKILL and starts again with the same arguments.
// Its output goes to a log file, appended across restarts.
type Process struct {
	Name string
	bin  string
	args []string
	env  []string
	dir  string
	log  string
	// ready is the URL of its /readyz (its --metrics-listen).
	ready string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	err    error         // cmd's exit status, once exited
	starts int
}

// NewProcess describes a subprocess; nothing runs until Start.
func NewProcess(name, bin, dir, log, readyAddr string, env []string, args ...string) *Process {
	return &Process{Name: name, bin: bin, args: args, env: env, dir: dir, log: log, ready: "http://" + readyAddr + "/readyz"}
}

// Start starts the process unless it runs.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	p.starts++
	fmt.Fprintf(out, "--- chaos: start %d of %s\n", p.starts, p.Name)
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("chaos: start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	go func() {
		err := cmd.Wait()
		out.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(exited)
	}()
	return nil
}

// PID is the running process's id, 0 when it does not run.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process was started and has not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// WaitReady polls its /readyz until it answers 200, the process exits or
// ctx ends.
func (p *Process) WaitReady(ctx context.Context) error {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return fmt.Errorf("chaos: %s is not running", p.Name)
	}
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.ready, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%w: %s (%v); see %s", ErrExited, p.Name, p.exitErr(), p.log)
		case <-ctx.Done():
			return fmt.Errorf("chaos: %s not ready: %w; see %s", p.Name, ctx.Err(), p.log)
		case <-tick.C:
		}
	}
}

func (p *Process) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// take hands over the running process, if any, to the one stopping it:
// whoever takes it waits for its exit; the others find nothing to stop.
func (p *Process) take() (*exec.Cmd, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	return cmd, exited
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *Process) Kill() {
	cmd, exited := p.take()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Stop asks the process to stop (SIGTERM), waits up to grace, then kills it.
func (p *Process) Stop(grace time.Duration) error {
	cmd, exited := p.take()
	if cmd == nil {
		return nil
	}
	_ = terminate(cmd.Process)
	select {
	case <-exited:
		return p.exitErr()
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("chaos: %s still running %s after SIGTERM: killed", p.Name, grace)
	}
}

// DumpStacks makes the process print every goroutine's stack to its log and
// exit (SIGQUIT), and waits until it has: what it was doing when a check
// found it stuck. The next recovery starts it again.
func (p *Process) DumpStacks() {
	cmd, exited := p.take()
	if cmd == nil {
		return
	}
	_ = quit(cmd.Process)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}
