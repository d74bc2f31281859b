package fsm

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// runIndex holds the runs and the indexes over them. Every run is in byID,
// in ordered, and in its schedule's runList; active runs are also in
// active. Runs are immutable: an event installs a new *Run with the same ID
// and nominal time, so its place in every ordered structure is stable.
type runIndex struct {
	byID    map[string]*Run
	ordered *btree[*Run, *Run]  // every run by (nominal, ID): unfiltered Runs pages
	bySched map[string]*runList // each schedule's runs
	active  map[string]*Run     // fired or running: ActiveRuns
}

func newRunIndex() runIndex {
	return runIndex{
		byID:    make(map[string]*Run),
		ordered: newBtree(runCmp, func(r *Run) *Run { return r }),
		bySched: make(map[string]*runList),
		active:  make(map[string]*Run),
	}
}

// runList is one schedule's runs sorted by (nominal time, ID) — the order
// retention prunes in, the same on every node however the state was built
// (log replay or snapshot restore) — with the counts retention needs.
type runList struct {
	runs     []*Run
	finished int // terminal runs in runs
	active   int // the others
	// limit and maxAge are the schedule's retention policy (kept current
	// by FSM.replace), so a run event needs no schedule lookup.
	limit  int
	maxAge time.Duration
	// unsorted is false while every terminal run has a FinishedAt and
	// those are non-decreasing in list order — the usual case, as runs
	// finish in the order they fire. Retention then drops a prefix of the
	// finished runs (pruneRuns).
	unsorted bool
	// floor is at or before the FinishedAt of every terminal run in runs
	// (when hasFloor; without it no terminal run has a FinishedAt). It lets
	// pruneRuns skip the age scan of an unsorted list while nothing can
	// have expired.
	floor    time.Time
	hasFloor bool
}

func runCmp(a, b *Run) int {
	if c := a.NominalAt.Compare(b.NominalAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// setPolicy resolves the retention bounds of policy p.
func (l *runList) setPolicy(p *Policy) {
	l.limit, l.maxAge = RunHistoryLimit, RunHistoryMaxAge
	if p.HistoryLimit > 0 {
		l.limit = p.HistoryLimit
	}
	if p.HistoryMaxAge > 0 {
		l.maxAge = time.Duration(p.HistoryMaxAge)
	}
}

// runListOf returns the run list of schedule s, creating it.
func (f *FSM) runListOf(s *Schedule) *runList {
	l := f.runs.bySched[s.ID]
	if l == nil {
		l = &runList{}
		l.setPolicy(&s.Policy)
		f.runs.bySched[s.ID] = l
	}
	return l
}

// search returns the index of the first run not before r.
func (l *runList) search(r *Run) int {
	if n := len(l.runs); n == 0 || runCmp(l.runs[n-1], r) < 0 {
		return n // automatic runs arrive in nominal order: append
	}
	return sort.Search(len(l.runs), func(i int) bool { return runCmp(l.runs[i], r) >= 0 })
}

// count adds r to (sign 1) or removes it from (sign -1) the list's counts.
func (l *runList) count(r *Run, sign int) {
	if !r.Status.Terminal() {
		l.active += sign
		return
	}
	l.finished += sign
	if sign > 0 && r.FinishedAt != nil && (!l.hasFloor || r.FinishedAt.Before(l.floor)) {
		l.floor, l.hasFloor = *r.FinishedAt, true
	}
}

// noteTerminal keeps unsorted current after runs[i] became terminal: it
// must not finish before the terminal run before it, nor after the one
// after it (active runs in between do not count).
func (l *runList) noteTerminal(i int) {
	r := l.runs[i]
	if l.unsorted {
		return
	}
	if r.FinishedAt == nil {
		l.unsorted = true
		return
	}
	for j := i - 1; j >= 0; j-- {
		if p := l.runs[j]; p.Status.Terminal() {
			l.unsorted = p.FinishedAt.After(*r.FinishedAt)
			break
		}
	}
	for j := i + 1; j < len(l.runs) && !l.unsorted; j++ {
		if n := l.runs[j]; n.Status.Terminal() {
			l.unsorted = n.FinishedAt.Before(*r.FinishedAt)
			break
		}
	}
}

// putRun stores r in l (its schedule's list), new or replacing the run with
// its ID, and keeps the digest and the indexes current.
func (f *FSM) putRun(l *runList, r *Run) {
	x := &f.runs
	var i int
	if old, ok := x.byID[r.ID]; ok {
		xorInto(&f.digest, f.hash.run(old))
		r.ID = old.ID // one copy of the ID: the map keeps its first key
		i = l.search(old)
		if i == len(l.runs) || l.runs[i] != old {
			panic("fsm: run index out of sync") // unreachable: runs keep their (nominal, ID)
		}
		l.runs[i] = r
		l.count(old, -1)
	} else {
		i = l.search(r)
		l.runs = insertAt(l.runs, i, r)
	}
	l.count(r, 1)
	if r.Status.Terminal() {
		l.noteTerminal(i)
	}
	x.ordered.Set(r)
	if r.Status.Terminal() {
		delete(x.active, r.ID)
	} else {
		x.active[r.ID] = r
	}
	x.byID[r.ID] = r
	xorInto(&f.digest, f.hash.run(r))
	f.note(ChangeRun, r.ID)
}

// forgetRun removes r from the digest and every index but its runList,
// which the caller updates.
func (f *FSM) forgetRun(r *Run) {
	x := &f.runs
	xorInto(&f.digest, f.hash.run(r))
	delete(x.byID, r.ID)
	delete(x.active, r.ID)
	x.ordered.Delete(r)
	f.note(ChangeRun, r.ID)
}

// decideRun applies run.fired, run.skipped and run.missed: a new run for an
// existing schedule. Automatic decisions must move the schedule's
// high-water mark strictly forward, which is what makes "at most one fire
// decision per (schedule, nominal time)" hold even after retention has
// forgotten older runs.
func (f *FSM) decideRun(ev *Event) Result {
	r := ev.Run // Apply owns the decoded event
	if r == nil || r.ID == "" || r.ScheduleID == "" || r.NominalAt.IsZero() {
		return Result{Err: fmt.Errorf("%w: %s without run id, schedule id or nominal time", ErrInvalidEvent, ev.Type)}
	}
	s, ok := f.schedules.get(r.ScheduleID)
	if !ok {
		return Result{Err: fmt.Errorf("%w: schedule %q", ErrNotFound, r.ScheduleID)}
	}
	if _, dup := f.runs.byID[r.ID]; dup {
		return Result{Err: fmt.Errorf("%w: run %q", ErrExists, r.ID)}
	}
	automatic := r.Trigger != TriggerManual
	if automatic && s.LastNominalAt != nil && !r.NominalAt.After(*s.LastNominalAt) {
		return Result{Err: fmt.Errorf("%w: %s at %s is not after the high-water mark %s", ErrStale, r.ScheduleID,
			r.NominalAt.UTC().Format(time.RFC3339Nano), s.LastNominalAt.UTC().Format(time.RFC3339Nano))}
	}
	r.ScheduleID = s.ID // share the schedule's copy of the ID
	r.FiredAt = ev.At
	r.Attempt = 1
	r.Status = StatusFired
	r.Result = canonRaw(r.Result)
	if r.DueAt.IsZero() {
		r.DueAt = r.NominalAt
	}
	switch ev.Type {
	case RunSkipped, RunMissed:
		r.Status = StatusSkipped
		if ev.Type == RunMissed {
			r.Status = StatusMissed
		}
		at := ev.At
		r.FinishedAt = &at
		r.Error = ev.Error
	}
	if automatic {
		ns := *s
		nominal := r.NominalAt
		ns.LastNominalAt = &nominal
		if ev.Type == RunFired {
			ns.FiredRuns++
		}
		f.replace(s, &ns)
	}
	l := f.runListOf(s)
	f.putRun(l, r)
	f.pruneRuns(l, ev.At)
	return Result{Run: r}
}

// advanceRun applies the events that move an existing run's current
// attempt forward. Events for another attempt, or for a finished run, are
// stale: a deposed leader or a late handler cannot overwrite a newer
// decision.
func (f *FSM) advanceRun(ev *Event) Result {
	cur, ok := f.runs.byID[ev.RunID]
	if !ok {
		return Result{Err: fmt.Errorf("%w: run %q", ErrNotFound, ev.RunID)}
	}
	if cur.Status.Terminal() || ev.Attempt != cur.Attempt {
		return Result{Err: fmt.Errorf("%w: run %q is %s at attempt %d, event is for attempt %d", ErrStale, cur.ID, cur.Status, cur.Attempt, ev.Attempt)}
	}
	r := *cur
	at := ev.At
	switch ev.Type {
	case RunAccepted:
		if ev.Instance == "" {
			return Result{Err: fmt.Errorf("%w: run.accepted without instance", ErrInvalidEvent)}
		}
		r.Status, r.HandlerInstance = StatusRunning, ev.Instance
		if r.StartedAt == nil {
			r.StartedAt = &at
		}
	case RunRetried:
		r.Status, r.Attempt, r.HandlerInstance, r.Error = StatusFired, r.Attempt+1, "", ev.Error
		r.NotBefore = ev.NotBefore
	default:
		switch ev.Type {
		case RunSucceeded:
			r.Status = StatusSucceeded
		case RunFailed:
			r.Status = StatusFailed
		case RunLost:
			r.Status = StatusLost
		default:
			r.Status = StatusCancelled
		}
		r.FinishedAt, r.Result, r.Error = &at, canonRaw(ev.Result), ev.Error
	}
	l := f.runs.bySched[r.ScheduleID] // exists: the run is in it
	f.putRun(l, &r)
	f.pruneRuns(l, ev.At)
	return Result{Run: &r}
}

// pruneRuns applies retention to one schedule's finished runs: walking its
// runs in (nominal, ID) order, a finished run goes while more than limit
// finished runs remain, or when it finished more than maxAge before now.
//
// Equivalently: the first finished−limit finished runs go, and of the rest
// those that expired. Walking the whole list per run event would cost
// O(history); instead:
//
//   - While the list is sorted by finish time (l.unsorted is false), an
//     expired run has only expired runs before it, so what goes is a prefix
//     of the finished runs: walk from the front and stop at the first
//     finished run that stays. O(runs dropped + active runs skipped).
//   - Otherwise l.floor bounds every finish time: while now−floor ≤ maxAge
//     nothing has expired and only the first finished−limit finished runs
//     go. When something may have expired, walk the whole list (which also
//     makes the floor exact, and finds out whether the list is sorted
//     again).
func (f *FSM) pruneRuns(l *runList, now time.Time) {
	limit, maxAge := l.limit, l.maxAge
	switch {
	case !l.unsorted:
		f.prunePrefix(l, now, limit, maxAge)
	case l.hasFloor && now.Sub(l.floor) > maxAge:
		f.pruneScan(l, now, limit, maxAge)
	case l.finished > limit:
		f.prunePrefix(l, time.Time{}, limit, maxAge) // nothing expired
	}
}

// prunePrefix drops finished runs from the front while more than limit
// remain or they expired (never, for a zero now), and stops at the first
// finished run that stays.
func (f *FSM) prunePrefix(l *runList, now time.Time, limit int, maxAge time.Duration) {
	i, kept := 0, 0 // l.runs[:kept] are the active runs passed so far
	for ; i < len(l.runs); i++ {
		r := l.runs[i]
		if !r.Status.Terminal() {
			l.runs[kept] = r
			kept++
			continue
		}
		expired := !now.IsZero() && r.FinishedAt != nil && now.Sub(*r.FinishedAt) > maxAge
		if l.finished <= limit && !expired {
			break
		}
		f.forgetRun(r)
		l.finished--
	}
	if dropped := i - kept; dropped > 0 {
		// Move the active runs passed over next to the rest and cut the
		// front: O(prefix), not O(list).
		copy(l.runs[dropped:i], l.runs[:kept])
		clear(l.runs[:dropped])
		l.runs = l.runs[dropped:]
	}
}

// pruneScan is the full retention walk; it also recomputes l.floor and
// l.unsorted.
func (f *FSM) pruneScan(l *runList, now time.Time, limit int, maxAge time.Duration) {
	l.hasFloor, l.unsorted = false, false
	var last *time.Time // finish time of the last terminal run kept
	kept := l.runs[:0]
	for _, r := range l.runs {
		terminal := r.Status.Terminal()
		expired := r.FinishedAt != nil && now.Sub(*r.FinishedAt) > maxAge
		if terminal && (l.finished > limit || expired) {
			f.forgetRun(r)
			l.finished--
			continue
		}
		if terminal {
			switch {
			case r.FinishedAt == nil:
				l.unsorted = true
			case last != nil && last.After(*r.FinishedAt):
				l.unsorted = true
			}
			if r.FinishedAt != nil {
				last = r.FinishedAt
				if !l.hasFloor || r.FinishedAt.Before(l.floor) {
					l.floor, l.hasFloor = *r.FinishedAt, true
				}
			}
		}
		kept = append(kept, r)
	}
	clear(l.runs[len(kept):])
	l.runs = kept
}

// dropRuns forgets every run of a deleted schedule.
func (f *FSM) dropRuns(scheduleID string) {
	l := f.runs.bySched[scheduleID]
	if l == nil {
		return
	}
	for _, r := range l.runs {
		f.forgetRun(r)
	}
	delete(f.runs.bySched, scheduleID)
}

// applyHandler registers or expires a handler instance.
func (f *FSM) applyHandler(ev *Event) Result {
	if ev.Type == HandlerExpired {
		old, ok := f.handlers[ev.Instance]
		if !ok {
			return Result{Err: fmt.Errorf("%w: handler instance %q", ErrNotFound, ev.Instance)}
		}
		xorInto(&f.digest, f.hash.handler(old))
		delete(f.handlers, ev.Instance)
		f.note(ChangeHandler, ev.Instance)
		return Result{}
	}
	h := ev.Handler
	if h == nil || h.Name == "" || h.Instance == "" || h.Capacity < 1 {
		return Result{Err: fmt.Errorf("%w: handler.registered needs name, instance and capacity", ErrInvalidEvent)}
	}
	h.RegisteredAt = ev.At
	f.putHandler(h)
	f.note(ChangeHandler, h.Instance)
	return Result{}
}

func (f *FSM) putHandler(h *HandlerInfo) {
	if old, ok := f.handlers[h.Instance]; ok {
		xorInto(&f.digest, f.hash.handler(old))
	}
	f.handlers[h.Instance] = h
	xorInto(&f.digest, f.hash.handler(h))
}
