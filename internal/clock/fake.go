package clock

import (
	"sync"
	"time"
)

// Fake is a manually advanced Clock for tests. Timers fire when Advance moves
// the fake time to or past their deadline.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

var _ Clock = (*Fake)(nil)

// NewFake returns a Fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Since returns the fake time elapsed since t.
func (f *Fake) Since(t time.Time) time.Duration { return f.Now().Sub(t) }

// Set moves the clock to t (forwards or backwards) and fires due timers.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.now = t
	due := f.collectDueLocked()
	f.mu.Unlock()
	for _, ft := range due {
		ft.fire(t)
	}
}

// Advance moves the clock forward by d and fires due timers.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// NewTimer returns a timer driven by Advance.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	ft := &fakeTimer{clock: f, ch: make(chan time.Time, 1), deadline: f.now.Add(d), active: true}
	f.timers = append(f.timers, ft)
	due := f.collectDueLocked()
	now := f.now
	f.mu.Unlock()
	for _, t := range due {
		t.fire(now)
	}
	return ft
}

func (f *Fake) collectDueLocked() []*fakeTimer {
	var due []*fakeTimer
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.active && !t.deadline.After(f.now) {
			t.active = false
			due = append(due, t)
			continue
		}
		if t.active {
			kept = append(kept, t)
		}
	}
	f.timers = kept
	return due
}

type fakeTimer struct {
	clock    *Fake
	ch       chan time.Time
	deadline time.Time
	active   bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) fire(now time.Time) {
	select {
	case t.ch <- now:
	default:
	}
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	f := t.clock
	f.mu.Lock()
	was := t.active
	t.deadline = f.now.Add(d)
	if !was {
		t.active = true
		f.timers = append(f.timers, t)
	}
	due := f.collectDueLocked()
	now := f.now
	f.mu.Unlock()
	for _, ft := range due {
		ft.fire(now)
	}
	return was
}
