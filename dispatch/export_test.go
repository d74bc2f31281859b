package dispatch

import (
	"context"
	"time"
)

// Test hooks (compiled into the test binary only).

// LeaderWakes is how often leader loops of d have woken up.
func (d *Dispatcher) LeaderWakes() uint64 { return d.wakes.Load() }

// RunIDForTest exposes runID (it must equal fsm.RunID).
var RunIDForTest = runID

// TestLeader drives one leader term synchronously on the caller's
// goroutine (no loop goroutine): benchmarks and memory tests call its
// steps directly with a fake clock.
type TestLeader struct {
	l      *leader
	cancel context.CancelFunc
}

// NewTestLeader builds a Dispatcher from cfg (not started) and a leader
// term that has done its leadership-gain rebuild.
func NewTestLeader(cfg Config) (*TestLeader, error) {
	d, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := newLeader(d, 1)
	l.begin(ctx)
	for l.loading != nil {
		l.loadSchedules()
	}
	return &TestLeader{l: l, cancel: cancel}, nil
}

// Step runs loop steps until no proposal is in flight, running every
// callback, and returns the error that would stop the loop.
func (t *TestLeader) Step() error {
	l := t.l
	l.feedPending = true
	l.step()
	for l.inflight > 0 && l.stopErr == nil {
		l.completed(<-l.done)
		l.step()
	}
	return l.stopErr
}

// Resync runs a full rescan of the FSM.
func (t *TestLeader) Resync() { t.l.fullResync(t.l.now(), "test") }

// Tracked reports the schedules with a timer and the tracked runs.
func (t *TestLeader) Tracked() (schedules, runs int) { return len(t.l.scheds), len(t.l.runs) }

// NextWake is when the loop would wake up next.
func (t *TestLeader) NextWake() time.Time { return t.l.nextWake(t.l.now()) }

// Close ends the term.
func (t *TestLeader) Close() {
	t.cancel()
	t.l.end()
}
