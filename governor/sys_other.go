//go:build !linux

package governor

import (
	"errors"
	"syscall"
	"time"
)

// sysProcAttr puts a child in its own process group. Without Linux's
// Pdeathsig a crashed governor can leave children behind: use `down`.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

var processStart = time.Now()

// MonotonicNS is the clock of the timeline; on this platform it is
// monotonic within this process only.
func MonotonicNS() int64 { return int64(time.Since(processStart)) }

// procCmdline is unsupported: the state-file fallback then signals nothing.
func procCmdline(int) ([]string, error) {
	return nil, errors.New("reading another process's command line is only supported on Linux")
}
