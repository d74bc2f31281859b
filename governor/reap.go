package governor

import (
	"context"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// goneTimeout bounds the wait for a SIGKILLed process to disappear.
const (
	goneTimeout  = 5 * time.Second
	goneInterval = 50 * time.Millisecond
)

// verified reports whether pid is alive and still runs argv, per
// /proc/<pid>/cmdline. A recycled PID, a zombie or the caller itself never
// verifies, so a stale state file cannot make us signal a stranger.
func verified(pid int, argv []string) bool {
	if pid <= 0 || pid == os.Getpid() || len(argv) == 0 {
		return false
	}
	got, err := procCmdline(pid)
	return err == nil && slices.Equal(got, argv)
}

// signalVerified signals pid only while it still runs argv.
func signalVerified(pid int, argv []string, sigs ...syscall.Signal) bool {
	if !verified(pid, argv) {
		return false
	}
	for _, s := range sigs {
		_ = syscall.Kill(pid, s)
	}
	return true
}

// terminate stops recorded processes that still run their recorded
// command: SIGTERM and SIGCONT, SIGKILL for those left after grace. It
// returns the PIDs that could not be made to disappear.
func terminate(ctx context.Context, c clock.Clock, procs []ProcessStatus, grace time.Duration) []int {
	var live []ProcessStatus
	for _, p := range procs {
		if signalVerified(p.PID, p.Cmdline, syscall.SIGTERM, syscall.SIGCONT) {
			live = append(live, p)
		}
	}
	live = waitGone(ctx, c, live, grace)
	for _, p := range live {
		signalVerified(p.PID, p.Cmdline, syscall.SIGKILL)
	}
	live = waitGone(context.Background(), c, live, goneTimeout)
	pids := make([]int, len(live))
	for i, p := range live {
		pids[i] = p.PID
	}
	return pids
}

// waitGone polls until every process is gone, d passes or ctx ends, and
// returns those still there.
func waitGone(ctx context.Context, c clock.Clock, procs []ProcessStatus, d time.Duration) []ProcessStatus {
	deadline := c.Now().Add(d)
	for {
		procs = slices.DeleteFunc(procs, func(p ProcessStatus) bool { return !verified(p.PID, p.Cmdline) })
		if len(procs) == 0 || !c.Now().Before(deadline) || ctx.Err() != nil {
			return procs
		}
		t := c.NewTimer(goneInterval)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
		}
	}
}
