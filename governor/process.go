package governor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// readyPoll is the interval between /readyz probes of a starting node;
// readyProbeTimeout bounds one probe (a paused node never answers).
const (
	readyPoll         = 100 * time.Millisecond
	readyProbeTimeout = time.Second
)

var errStopping = errors.New("governor: process is being stopped")

// supervision is what every supervised process shares with its governor.
type supervision struct {
	policy RestartPolicy
	clock  clock.Clock
	log    *slog.Logger
	env    []string
	grace  time.Duration
	notify func()              // something changed: rewrite state.json
	record func(TimelineEvent) // append to the timeline
}

// procSpec describes how to run one process.
type procSpec struct {
	id      string
	kind    Kind
	dir     string // working directory
	logPath string
	// argv builds the command line at each spawn (a handler's servers
	// follow the live nodes).
	argv func() []string
	// ready probes readiness; nil means ready once spawned.
	ready func(context.Context) bool
}

// proc supervises one process: spawn, wait, restart with back-off. One
// loop goroutine runs per supervision session (start … stop); a waiter
// goroutine per incarnation reaps the child.
type proc struct {
	spec procSpec
	sv   *supervision

	mu        sync.Mutex
	state     ProcessState
	paused    bool
	cmd       *exec.Cmd // nil when no incarnation is alive
	argv      []string
	startedAt time.Time
	exited    chan struct{} // closed once the current incarnation is reaped
	faulted   bool          // the coming exit was caused by Kill or Term
	bo        backoff
	restarts  int
	lastExit  string
	stopping  bool
	stopCh    chan struct{} // closed by stop: interrupts a back-off wait
	loopDone  chan struct{} // nil when no loop runs
}

func newProc(spec procSpec, sv *supervision) *proc {
	return &proc{spec: spec, sv: sv, state: StateStopped, bo: backoff{policy: sv.policy}}
}

// start begins supervising; it is a no-op while a loop runs.
func (p *proc) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loopDone != nil {
		select {
		case <-p.loopDone: // the last loop ended (failed): supervise anew
		default:
			return
		}
	}
	p.stopping, p.faulted = false, false
	p.stopCh, p.loopDone = make(chan struct{}), make(chan struct{})
	p.state = StateStarting
	go p.loop(p.stopCh, p.loopDone)
}

func (p *proc) loop(stopCh <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for first := true; ; first = false {
		exited, err := p.spawn(first)
		if err == nil {
			p.awaitReady(exited)
			<-exited
		} else if !errors.Is(err, errStopping) {
			p.sv.log.Error("start failed", "process", p.spec.id, "err", err)
		}
		delay, again := p.afterExit(err)
		if !again {
			return
		}
		t := p.sv.clock.NewTimer(delay)
		select {
		case <-t.C():
		case <-stopCh:
			t.Stop()
			p.setState(StateStopped)
			return
		}
	}
}

// spawn starts one incarnation and a goroutine that reaps it.
func (p *proc) spawn(first bool) (<-chan struct{}, error) {
	argv := p.spec.argv()
	logf, err := os.OpenFile(p.spec.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.spec.dir, p.sv.env, logf, logf
	cmd.SysProcAttr = sysProcAttr()
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return nil, errStopping
	}
	if err := cmd.Start(); err != nil {
		p.lastExit = err.Error()
		p.mu.Unlock()
		return nil, err
	}
	exited := make(chan struct{})
	p.cmd, p.argv, p.exited, p.paused = cmd, argv, exited, false
	p.startedAt = p.sv.clock.Now()
	p.state = StateStarting
	if p.spec.ready == nil {
		p.state = StateRunning
	}
	if !first {
		p.restarts++
	}
	p.mu.Unlock()
	fmt.Fprintf(logf, "==== governor: started %s pid %d at %s\n", p.spec.id, cmd.Process.Pid, p.startedAt.UTC().Format(time.RFC3339Nano))
	p.sv.record(TimelineEvent{Kind: "process", Op: "spawn", Target: p.spec.id, PID: cmd.Process.Pid})
	p.sv.notify()
	go func() {
		err := cmd.Wait()
		p.reaped(err)
		close(exited)
	}()
	return exited, nil
}

func (p *proc) reaped(err error) {
	p.mu.Lock()
	pid := p.cmd.Process.Pid
	p.cmd, p.paused = nil, false
	if !p.stopping {
		p.state = StateBackoff // until afterExit decides; never "running" without a process
	}
	p.lastExit = "exit status 0"
	if err != nil {
		p.lastExit = err.Error()
	}
	exit := p.lastExit
	p.mu.Unlock()
	p.sv.record(TimelineEvent{Kind: "process", Op: "exit", Target: p.spec.id, PID: pid, Detail: exit})
}

// awaitReady probes a starting node until it is ready or exits.
func (p *proc) awaitReady(exited <-chan struct{}) {
	if p.spec.ready == nil {
		return
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), readyProbeTimeout)
		ok := p.spec.ready(ctx)
		cancel()
		if ok {
			p.mu.Lock()
			if p.state == StateStarting {
				p.state = StateRunning
			}
			p.mu.Unlock()
			p.sv.notify()
			return
		}
		t := p.sv.clock.NewTimer(readyPoll)
		select {
		case <-exited:
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// afterExit decides what follows an exit (or a failed spawn): the delay
// before the next spawn, or false when the loop must end.
func (p *proc) afterExit(spawnErr error) (time.Duration, bool) {
	defer p.sv.notify()
	p.mu.Lock()
	if p.stopping {
		p.state = StateStopped
		p.mu.Unlock()
		return 0, false
	}
	now := p.sv.clock.Now()
	ranFor := now.Sub(p.startedAt)
	if spawnErr != nil {
		ranFor = 0
	}
	delay, ok := p.bo.next(now, ranFor, p.faulted)
	p.faulted = false
	p.state = StateBackoff
	if !ok {
		p.state = StateFailed
	}
	exit := p.lastExit
	p.mu.Unlock()
	if !ok {
		p.sv.log.Error("process crashed too often; giving up until restart", "process", p.spec.id,
			"max_restarts", p.sv.policy.MaxRestarts, "window", p.sv.policy.Window, "last_exit", exit)
		p.sv.record(TimelineEvent{Kind: "process", Op: "failed", Target: p.spec.id, Detail: exit})
		return 0, false
	}
	p.sv.log.Warn("process exited; restarting after back-off", "process", p.spec.id, "exit", exit, "backoff", delay)
	return delay, true
}

func (p *proc) setState(s ProcessState) {
	p.mu.Lock()
	p.state = s
	p.mu.Unlock()
	p.sv.notify()
}

// signal sends sig to the live incarnation. A faulted signal marks the
// exit it causes as deliberate (initial back-off, not counted).
func (p *proc) signal(sig syscall.Signal, faulted bool) (int, error) {
	p.mu.Lock()
	defer p.sv.notify()
	defer p.mu.Unlock()
	if p.cmd == nil || p.stopping {
		return 0, fmt.Errorf("%w: %s is %s", ErrNotRunning, p.spec.id, p.stateLocked())
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return 0, fmt.Errorf("signal %s: %w", p.spec.id, err)
	}
	p.faulted = p.faulted || faulted
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
	return p.cmd.Process.Pid, nil
}

// stop ends supervision: SIGTERM (and SIGCONT, so a paused process can act
// on it), SIGKILL after the grace period or when ctx ends, then it waits
// for the loop. Stopping a stopped process is a no-op.
func (p *proc) stop(ctx context.Context) {
	p.mu.Lock()
	done := p.loopDone
	if done == nil {
		p.mu.Unlock()
		return
	}
	if !p.stopping {
		p.stopping = true
		close(p.stopCh)
	}
	cmd, exited := p.cmd, p.exited
	if cmd != nil {
		p.state = StateStopping
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	p.mu.Unlock()
	p.sv.notify()
	if cmd != nil {
		t := p.sv.clock.NewTimer(p.sv.grace)
		select {
		case <-exited:
		case <-t.C():
			p.sv.log.Warn("grace period over; killing", "process", p.spec.id, "pid", cmd.Process.Pid)
			_ = cmd.Process.Kill()
		case <-ctx.Done():
			_ = cmd.Process.Kill()
		}
		t.Stop()
		<-exited
	}
	<-done
	p.mu.Lock()
	if p.loopDone == done {
		p.loopDone = nil
	}
	p.mu.Unlock()
}

// revive clears the crash history so that the next start is clean.
func (p *proc) revive() {
	p.mu.Lock()
	p.bo.reset()
	p.mu.Unlock()
}

func (p *proc) stateLocked() ProcessState {
	if p.paused && p.cmd != nil {
		return StatePaused
	}
	return p.state
}

// status reports the process fields the supervisor owns.
func (p *proc) status() ProcessStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := ProcessStatus{ID: p.spec.id, Kind: p.spec.kind, State: p.stateLocked(),
		LogFile: p.spec.logPath, Restarts: p.restarts, LastExit: p.lastExit}
	if p.cmd != nil {
		st.PID = p.cmd.Process.Pid
		st.Cmdline = p.argv
	}
	return st
}

func (p *proc) markRemoved() { p.setState(StateRemoved) }
