package chaos

import (
	"os"
	"syscall"
)

// childAttr makes the kernel kill a subprocess when the harness dies, so
// that a harness killed itself (or a test binary past its timeout) leaves
// no serve or worker behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// quit asks the Go runtime of a subprocess to print every goroutine's
// stack to its log and exit (SIGQUIT).
func quit(p *os.Process) error { return p.Signal(syscall.SIGQUIT) }
