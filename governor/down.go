package governor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// statusTimeout bounds the live status query before StatusOf falls back to
// the state file; governorKillWait bounds the wait for an unresponsive
// governor after SIGTERM.
const (
	statusTimeout    = 3 * time.Second
	governorKillWait = 5 * time.Second
)

// DownOptions tunes Down. Zero fields take defaults.
type DownOptions struct {
	// Grace is the time between SIGTERM and SIGKILL for processes Down
	// signals itself (default DefaultGracePeriod).
	Grace time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Clock paces the waits; nil is the real clock.
	Clock clock.Clock
}

func (o DownOptions) withDefaults() DownOptions {
	o.Grace = cmp.Or(o.Grace, DefaultGracePeriod)
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return o
}

// Down stops the governor of dir and every process it recorded, from any
// shell. It asks the live governor through the control API first; if the
// governor does not answer or does not finish in time, it is signalled
// (SIGTERM, then SIGKILL). Then, holding the directory lock, Down signals
// every recorded process that is still alive and still runs its recorded
// command line (checked in /proc/<pid>/cmdline before each signal), so it
// leaves nothing behind even when the supervisor is gone. A directory
// without state.json has nothing to stop and is not an error.
func Down(ctx context.Context, dir string, opts DownOptions) error {
	opts = opts.withDefaults()
	sf, err := readStateFile(dir)
	if errors.Is(err, fs.ErrNotExist) {
		opts.Logger.Info("nothing to stop: no state file", "dir", dir)
		return nil
	}
	if err != nil {
		return err
	}
	if governorAlive(sf) {
		if err := stopGovernor(ctx, dir, sf, opts); err != nil {
			return err
		}
	}
	return reapDir(ctx, dir, opts)
}

// stopGovernor asks the governor to stop and, if it does not, kills it.
func stopGovernor(ctx context.Context, dir string, sf stateFile, opts DownOptions) error {
	wait := 2*opts.Grace + 30*time.Second
	if r, err := Dial(dir); err == nil {
		defer r.Close()
		rctx, cancel := context.WithTimeout(ctx, statusTimeout)
		err = r.requestDown(rctx)
		cancel()
		if err == nil && waitStopped(ctx, dir, opts.Clock, wait) {
			return nil
		}
		opts.Logger.Warn("governor does not stop through its control API; signalling it", "pid", sf.Governor.PID, "err", err)
	}
	if sf.Governor.PID == syscall.Getpid() {
		return fmt.Errorf("the governor runs in this process and does not stop")
	}
	gov := []ProcessStatus{{ID: "governor", PID: sf.Governor.PID, Cmdline: sf.GovernorCmdline}}
	if left := terminate(ctx, opts.Clock, gov, governorKillWait); len(left) > 0 {
		return fmt.Errorf("governor pid %d survives SIGKILL", sf.Governor.PID)
	}
	return nil
}

// waitStopped polls until the recorded governor is gone or has recorded
// its own stop, for at most d.
func waitStopped(ctx context.Context, dir string, c clock.Clock, d time.Duration) bool {
	deadline := c.Now().Add(d)
	for {
		sf, err := readStateFile(dir)
		if err != nil || !governorAlive(sf) {
			return true
		}
		if !c.Now().Before(deadline) {
			return false
		}
		t := c.NewTimer(goneInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C():
		}
	}
}

// reapDir takes the lock (no governor may run), stops every recorded
// process still alive and records them as stopped.
func reapDir(ctx context.Context, dir string, opts DownOptions) error {
	lock, err := lockDirWait(ctx, dir, opts.Clock, governorKillWait)
	if err != nil {
		return fmt.Errorf("governor stopped but the directory is still locked: %w", err)
	}
	defer unlockDir(lock)
	sf, err := readStateFile(dir)
	if err != nil {
		return err
	}
	all := slices.Concat(sf.Nodes, sf.Handlers)
	var live []ProcessStatus
	for _, p := range all {
		if verified(p.PID, p.Cmdline) {
			live = append(live, p)
		}
	}
	if len(live) > 0 {
		opts.Logger.Warn("stopping processes the governor left behind", "count", len(live))
	}
	left := terminate(ctx, opts.Clock, live, opts.Grace)
	for _, list := range [][]ProcessStatus{sf.Nodes, sf.Handlers} {
		for i := range list {
			if !slices.Contains(left, list[i].PID) {
				markDown(&list[i])
			}
		}
	}
	sf.Governor.State = phaseStopped
	if err := writeStateFile(dir, sf); err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("processes survive SIGKILL: %v", left)
	}
	return nil
}

func markDown(p *ProcessStatus) {
	if p.PID != 0 && p.State != StateRemoved && p.State != StateFailed {
		p.State = StateStopped
	}
	p.PID, p.Cmdline = 0, nil
}

// StatusOf returns the status of dir's governor: live through the control
// API when it answers, otherwise from state.json with every recorded
// process checked in /proc (State "gone" when it no longer exists) and
// Governor.State "gone". live tells which one it is.
func StatusOf(ctx context.Context, dir string) (st Status, live bool, err error) {
	if r, err := Dial(dir); err == nil {
		defer r.Close()
		rctx, cancel := context.WithTimeout(ctx, statusTimeout)
		st, err := r.Status(rctx)
		cancel()
		if err == nil {
			return st, true, nil
		}
	}
	sf, err := readStateFile(dir)
	if err != nil {
		return Status{}, false, err
	}
	if !governorAlive(sf) && sf.Governor.State != phaseStopped {
		sf.Governor.State = phaseGone
	}
	for _, list := range [][]ProcessStatus{sf.Nodes, sf.Handlers} {
		for i := range list {
			if list[i].PID != 0 && !verified(list[i].PID, list[i].Cmdline) {
				list[i].State = StateGone
			}
		}
	}
	return sf.Status, false, nil
}

// lockDirWait retries lockDir for up to d: a governor that has recorded
// its stop releases the lock a moment later.
func lockDirWait(ctx context.Context, dir string, c clock.Clock, d time.Duration) (*os.File, error) {
	deadline := c.Now().Add(d)
	for {
		f, err := lockDir(dir)
		if !errors.Is(err, ErrLocked) || !c.Now().Before(deadline) {
			return f, err
		}
		t := c.NewTimer(goneInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C():
		}
	}
}
