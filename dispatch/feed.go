package dispatch

import (
	"time"

	"github.com/schedulezero/schedulezero/fsm"
)

// feedChunk bounds one read of the FSM change feed.
const feedChunk = 4096

// drainFeed applies every FSM change since the cursor: O(1) work per
// change (re-read that schedule, run or handler). A cursor the feed no
// longer covers (the loop fell more than the feed's size behind, or a
// snapshot was restored) triggers a full resync.
func (l *leader) drainFeed(now time.Time) {
	l.feedPending = false
	for l.stopErr == nil {
		var next uint64
		var ok bool
		l.changes, next, ok = l.fsm.ChangesSince(l.cursor, l.changes[:0], feedChunk)
		if !ok {
			l.d.log.Warn("dispatch fell behind the FSM change feed; rescanning")
			l.fullResync(now, "feed")
			return
		}
		l.cursor = next
		for _, c := range l.changes {
			switch c.Kind {
			case fsm.ChangeSchedule:
				l.syncSchedule(c.ID)
			case fsm.ChangeRun:
				l.syncRun(c.ID, now)
			case fsm.ChangeHandler:
				l.syncHandler(c.ID)
			}
		}
		n := len(l.changes)
		clear(l.changes)
		if n < feedChunk {
			return
		}
	}
}

// loadChunk bounds the schedules armed per loop step while the timers are
// loaded after a leadership gain (≈ 1 µs each: a chunk is a few ms).
const loadChunk = 8192

// gain rebuilds run tracking from the FSM at once, then loads the
// schedules' timers in chunks (loadSchedules), one per loop step, so that
// handler hellos, adopted runs and the fires of already loaded schedules
// are not delayed by a million schedules. The feed is followed from the
// cursor taken before the scan; the loader skips every schedule the feed
// has armed meanwhile and re-reads the others, so it never resurrects a
// deleted or outdated value.
func (l *leader) gain(now time.Time) {
	cursor := l.fsm.ChangeCursor()
	l.d.m.resyncs.WithLabelValues("leadership").Inc()
	l.loading = l.fsm.Schedules()
	l.scheds = make(map[string]*schedState, len(l.loading))
	l.timers = make(timerHeap, 0, len(l.loading))
	l.resyncRuns(now)
	l.cursor, l.lastResync = cursor, now
}

// loadSchedules arms the next chunk of schedules listed at the gain.
func (l *leader) loadSchedules() {
	n := min(len(l.loading), loadChunk)
	for i, s := range l.loading[:n] {
		l.loading[i] = nil
		if l.scheds[s.ID] != nil {
			continue // the feed armed it (or its decision is in flight)
		}
		if cur, ok := l.fsm.Get(s.ID); ok {
			l.setSchedule(nil, cur)
		}
	}
	l.loading = l.loading[n:]
	if len(l.loading) == 0 {
		l.loading = nil
	}
}

// fullResync rebuilds timers and run tracking from a scan of the whole
// FSM: when the feed overflowed, and every ResyncInterval when that safety
// net is on. The cursor is taken before the scan, so a change racing with
// it is applied again from the feed (every change handler is idempotent).
func (l *leader) fullResync(now time.Time, reason string) {
	cursor := l.fsm.ChangeCursor()
	l.d.m.resyncs.WithLabelValues(reason).Inc()
	l.loading = nil
	l.resyncSchedules()
	l.resyncRuns(now)
	for inst := range l.hs {
		l.syncHandler(inst)
	}
	l.cursor, l.lastResync = cursor, now
}

// resyncSchedules aligns every timer with the FSM.
func (l *leader) resyncSchedules() {
	all := l.fsm.Schedules()
	for _, s := range all {
		ss := l.scheds[s.ID]
		if ss != nil && (ss.flags&schedInflight != 0 || ss.s == s) {
			continue
		}
		l.setSchedule(ss, s)
	}
	for id, ss := range l.scheds {
		if ss.flags&schedInflight == 0 {
			if _, ok := l.fsm.Get(id); !ok {
				l.timers.remove(ss)
				delete(l.scheds, id)
			}
		}
	}
}

// resyncRuns tracks every active run of the FSM and forgets tracked runs
// the FSM has finished. Runs decided under an earlier leadership are
// adopted (held, see holdUntil).
func (l *leader) resyncRuns(now time.Time) {
	l.resyncGen++
	for _, r := range l.fsm.ActiveRuns() {
		rs := l.runs[r.ID]
		switch {
		case rs != nil:
			if !rs.busy && rs.rec != r {
				if alive, changed := l.reconcile(rs, now); alive && changed {
					l.place(rs, now)
				}
			}
		case l.scheds[r.ScheduleID] != nil && l.scheds[r.ScheduleID].flags&schedInflight != 0:
			// Its decision is in flight: that completion adopts it.
			l.scheds[r.ScheduleID].flags |= schedRunsDirty
			continue
		default:
			rs = l.adopt(r, now)
		}
		rs.seen = l.resyncGen
	}
	for _, rs := range l.runs {
		if rs.seen != l.resyncGen && !rs.busy {
			l.untrack(rs, now)
		}
	}
}
