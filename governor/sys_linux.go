package governor

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// sysProcAttr puts a child in its own process group (so a terminal's
// Ctrl-C reaches the governor only, which then stops the children in
// order) and has the kernel SIGKILL it if the governor dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// MonotonicNS reads CLOCK_MONOTONIC in nanoseconds, the clock of the
// timeline: system-wide, so a test harness in this or another process can
// stamp its own events on the same axis.
func MonotonicNS() int64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return ts.Nano()
}

// procCmdline returns the argv of a live process from /proc/<pid>/cmdline.
func procCmdline(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("pid %d: empty cmdline (zombie or kernel thread)", pid)
	}
	parts := bytes.Split(bytes.TrimSuffix(b, []byte{0}), []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out, nil
}
