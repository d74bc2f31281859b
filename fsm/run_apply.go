package fsm

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"time"
)

type runEntry struct {
	r    *Run
	hash [sha256.Size]byte
}

// putRun stores r and keeps the digest current.
func (f *FSM) putRun(r *Run) {
	if old, ok := f.runs[r.ID]; ok {
		xorInto(&f.digest, old.hash)
	} else {
		f.insertRunID(r)
	}
	h := hashOf('r', r)
	xorInto(&f.digest, h)
	f.runs[r.ID] = &runEntry{r: r, hash: h}
	f.note(ChangeRun, r.ID)
}

// insertRunID keeps each schedule's run IDs sorted by (nominal time, ID),
// so retention prunes the same runs on every node however the state was
// built (log replay or snapshot restore).
func (f *FSM) insertRunID(r *Run) {
	ids := f.runsBySchedule[r.ScheduleID]
	i := sort.Search(len(ids), func(i int) bool { return runLess(r, f.runs[ids[i]].r) })
	ids = append(ids, "")
	copy(ids[i+1:], ids[i:])
	ids[i] = r.ID
	f.runsBySchedule[r.ScheduleID] = ids
}

// decideRun applies run.fired, run.skipped and run.missed: a new run for an
// existing schedule. Automatic decisions must move the schedule's
// high-water mark strictly forward, which is what makes "at most one fire
// decision per (schedule, nominal time)" hold even after retention has
// forgotten older runs.
func (f *FSM) decideRun(ev *Event) Result {
	in := ev.Run
	if in == nil || in.ID == "" || in.ScheduleID == "" || in.NominalAt.IsZero() {
		return Result{Err: fmt.Errorf("%w: %s without run id, schedule id or nominal time", ErrInvalidEvent, ev.Type)}
	}
	se, ok := f.schedules[in.ScheduleID]
	if !ok {
		return Result{Err: fmt.Errorf("%w: schedule %q", ErrNotFound, in.ScheduleID)}
	}
	if _, dup := f.runs[in.ID]; dup {
		return Result{Err: fmt.Errorf("%w: run %q", ErrExists, in.ID)}
	}
	s := se.s
	automatic := in.Trigger != TriggerManual
	if automatic && s.LastNominalAt != nil && !in.NominalAt.After(*s.LastNominalAt) {
		return Result{Err: fmt.Errorf("%w: %s at %s is not after the high-water mark %s", ErrStale, in.ScheduleID,
			in.NominalAt.UTC().Format(time.RFC3339Nano), s.LastNominalAt.UTC().Format(time.RFC3339Nano))}
	}
	r := *in
	r.FiredAt = ev.At
	r.Attempt = 1
	r.Status = StatusFired
	if r.DueAt.IsZero() {
		r.DueAt = r.NominalAt
	}
	if ev.Type != RunFired {
		r.Status = map[EventType]RunStatus{RunSkipped: StatusSkipped, RunMissed: StatusMissed}[ev.Type]
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
		f.put(&ns)
	}
	f.putRun(&r)
	f.pruneRuns(r.ScheduleID, ev.At)
	return Result{Run: &r}
}

// advanceRun applies the events that move an existing run's current
// attempt forward. Events for another attempt, or for a finished run, are
// stale: a deposed leader or a late handler cannot overwrite a newer
// decision.
func (f *FSM) advanceRun(ev *Event) Result {
	e, ok := f.runs[ev.RunID]
	if !ok {
		return Result{Err: fmt.Errorf("%w: run %q", ErrNotFound, ev.RunID)}
	}
	cur := e.r
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
		r.Status = map[EventType]RunStatus{RunSucceeded: StatusSucceeded, RunFailed: StatusFailed, RunLost: StatusLost, RunCancelled: StatusCancelled}[ev.Type]
		r.FinishedAt, r.Result, r.Error = &at, ev.Result, ev.Error
	}
	f.putRun(&r)
	f.pruneRuns(r.ScheduleID, ev.At)
	return Result{Run: &r}
}

// pruneRuns applies retention to one schedule's finished runs.
func (f *FSM) pruneRuns(scheduleID string, now time.Time) {
	limit, maxAge := RunHistoryLimit, RunHistoryMaxAge
	if se, ok := f.schedules[scheduleID]; ok {
		if se.s.Policy.HistoryLimit > 0 {
			limit = se.s.Policy.HistoryLimit
		}
		if se.s.Policy.HistoryMaxAge > 0 {
			maxAge = time.Duration(se.s.Policy.HistoryMaxAge)
		}
	}
	ids := f.runsBySchedule[scheduleID]
	finished := 0
	for _, id := range ids {
		if f.runs[id].r.Status.Terminal() {
			finished++
		}
	}
	kept := ids[:0]
	for _, id := range ids {
		r := f.runs[id].r
		expired := r.FinishedAt != nil && now.Sub(*r.FinishedAt) > maxAge
		if r.Status.Terminal() && (finished > limit || expired) {
			finished--
			f.deleteRun(id)
			continue
		}
		kept = append(kept, id)
	}
	f.runsBySchedule[scheduleID] = kept
}

func (f *FSM) deleteRun(id string) {
	xorInto(&f.digest, f.runs[id].hash)
	delete(f.runs, id)
	f.note(ChangeRun, id)
}

// dropRuns forgets every run of a deleted schedule.
func (f *FSM) dropRuns(scheduleID string) {
	for _, id := range f.runsBySchedule[scheduleID] {
		f.deleteRun(id)
	}
	delete(f.runsBySchedule, scheduleID)
}

// applyHandler registers or expires a handler instance.
func (f *FSM) applyHandler(ev *Event) Result {
	if ev.Type == HandlerExpired {
		if !dropRecord(f, f.handlers, 'h', ev.Instance) {
			return Result{Err: fmt.Errorf("%w: handler instance %q", ErrNotFound, ev.Instance)}
		}
		f.note(ChangeHandler, ev.Instance)
		return Result{}
	}
	h := ev.Handler
	if h == nil || h.Name == "" || h.Instance == "" || h.Capacity < 1 {
		return Result{Err: fmt.Errorf("%w: handler.registered needs name, instance and capacity", ErrInvalidEvent)}
	}
	n := *h
	n.RegisteredAt = ev.At
	putRecord(f, f.handlers, 'h', n.Instance, &n)
	f.note(ChangeHandler, n.Instance)
	return Result{}
}
