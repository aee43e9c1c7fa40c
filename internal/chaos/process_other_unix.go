//go:build unix && !linux

package chaos

import (
	"os"
	"syscall"
)

// childAttr has no parent-death signal outside Linux: the harness stops
// its subprocesses itself, on every path out of a run.
func childAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// quit asks the Go runtime of a subprocess to print every goroutine's
// stack to its log and exit (SIGQUIT).
func quit(p *os.Process) error { return p.Signal(syscall.SIGQUIT) }
