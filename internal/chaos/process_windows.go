package chaos

import (
	"os"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return nil }

// terminate kills: Windows has no SIGTERM for a console process.
func terminate(p *os.Process) error { return p.Kill() }

// quit kills: Windows has no SIGQUIT to make Go print its goroutines.
func quit(p *os.Process) error { return p.Kill() }
