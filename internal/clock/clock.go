// Package clock owns the notion of time for ScheduleZero's core code.
//
// Core packages never call time.Now, time.NewTimer or time.Sleep directly:
// they take a Clock through their Config so tests can substitute a Fake (or
// run under testing/synctest) and so the leader is the only place that reads
// the wall clock for decisions that end up in the replicated log.
package clock

import "time"

// Clock is the time source injected into every component.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
	// Since returns the time elapsed since t.
	Since(t time.Time) time.Duration
}

// Timer is the subset of *time.Timer the core code uses.
type Timer interface {
	// C returns the channel on which the fire time is delivered.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was active.
	Stop() bool
	// Reset changes the timer to fire after d; it reports whether it was active.
	Reset(d time.Duration) bool
}

// Real is the Clock backed by package time.
type Real struct{}

var _ Clock = Real{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Since returns time.Since(t).
func (Real) Since(t time.Time) time.Duration { return time.Since(t) }

// NewTimer returns a real timer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }
