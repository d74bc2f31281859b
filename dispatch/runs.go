package dispatch

import (
	"errors"
	"time"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

// sendRetryDelay spaces attempts to hand a dispatch to a transport queue
// that refused it (full, or the peer is unknown to it).
const sendRetryDelay = 200 * time.Millisecond

type runPhase uint8

const (
	phaseWaiting runPhase = iota // needs a dispatch (no handler yet, back-off, buffered, held)
	phaseSent                    // dispatched, waiting for accepted
	phaseRunning                 // accepted by instance
)

// runWhere says which heap holds a run: a run is in at most one.
type runWhere uint8

const (
	whereNone     runWhere = iota
	whereReady             // l.queues[handler]: waiting for credit, by (dueAt, id)
	whereDeadline          // l.deadlines: accept timeout, attempt timeout, back-off, hold, send retry
)

// runState is the leader's in-memory view of one active run.
//
// Memory: ~200 B per active run (active runs are bounded by handler
// capacity plus the runs waiting for it, not by the number of schedules).
type runState struct {
	id, schedID string
	handler     string // the ready queue holding it (its schedule's handler)
	instance    string // current assignee
	prefer      string // instance to return it to (recorded instance, hello.running)
	rec         *fsm.Run
	// parked is a result that arrived while an event of this run was being
	// committed; it is handled when that commit returns.
	parked      *transport.Inbound
	nextOfSched *runState // l.bySched list
	dueAt       time.Time
	sentAt      time.Time
	deadline    time.Time // attempt timeout, from acceptance
	notBefore   time.Time
	hkey        int64 // heap key (unix ns) while in a runHeap
	hidx        int32 // heap index, -1 when in none
	attempt     int
	seen        uint32 // full-resync generation
	phase       runPhase
	where       runWhere
	busy        bool // an event of this run is queued or being committed
	buffered    bool // buffer_one: hold until the schedule's other runs finish
	// adopted: found in the FSM rather than fired by this leader (failover);
	// held back briefly so the instance that may already run it can say
	// hello first (see holdUntil).
	adopted      bool
	cancelWanted bool // overlap cancel_other arrived while busy
	// early: decided before its due time (precommit, Config.Lookahead) and
	// not known to have been sent; recheck looks at its schedule once more
	// when it may go (due time, adoption hold over). Cleared by the first
	// send, an acceptance, or a hello listing the run.
	early bool
}

// track starts tracking a committed active run (idempotent).
func (l *leader) track(r *fsm.Run) *runState {
	if rs := l.runs[r.ID]; rs != nil {
		return rs
	}
	rs := &runState{id: r.ID, schedID: r.ScheduleID, attempt: r.Attempt, dueAt: r.DueAt, prefer: r.HandlerInstance, rec: r, hidx: -1}
	rs.early = r.FiredAt.Before(r.DueAt) && r.Trigger != fsm.TriggerManual && r.Attempt == 1 &&
		r.Status == fsm.StatusFired && r.HandlerInstance == ""
	if r.NotBefore != nil {
		rs.notBefore = *r.NotBefore
	}
	l.runs[r.ID] = rs
	rs.nextOfSched = l.bySched[r.ScheduleID]
	l.bySched[r.ScheduleID] = rs
	return rs
}

// adopt tracks a run this loop did not decide (failover, manual trigger,
// a decision by an earlier leadership) and places it.
func (l *leader) adopt(r *fsm.Run, now time.Time) *runState {
	rs := l.track(r)
	if r.FiredAt.Before(l.gainedAt) {
		rs.adopted = true
		l.held = append(l.held, rs)
	}
	l.place(rs, now)
	return rs
}

// untrack forgets a run. Only the instance it was accepted by gets its
// credit back: an instance that was sent the run and never answered keeps
// the credit in use until it answers or is lost, so a stalled instance
// never holds more than its capacity. A buffered run of the same schedule
// may go once the others are gone.
func (l *leader) untrack(rs *runState, now time.Time) {
	if l.runs[rs.id] != rs {
		return
	}
	l.unplace(rs)
	if rs.phase == phaseRunning {
		if h := l.hs[rs.instance]; h != nil && h.inflight[rs.id] {
			delete(h.inflight, rs.id)
			l.credit(h)
		}
	}
	delete(l.runs, rs.id)
	l.unlink(rs)
	rs.parked = nil
	for o := l.bySched[rs.schedID]; o != nil; o = o.nextOfSched {
		if o.buffered && o.phase == phaseWaiting && !o.busy {
			l.place(o, now)
		}
	}
}

// unlink removes rs from its schedule's run list: O(runs of the schedule).
func (l *leader) unlink(rs *runState) {
	head := l.bySched[rs.schedID]
	if head == rs {
		head = rs.nextOfSched
	} else {
		for p := head; p != nil; p = p.nextOfSched {
			if p.nextOfSched == rs {
				p.nextOfSched = rs.nextOfSched
				break
			}
		}
	}
	if head == nil {
		delete(l.bySched, rs.schedID)
	} else {
		l.bySched[rs.schedID] = head
	}
	rs.nextOfSched = nil
}

// activeCount is how many runs of the schedule are active in the FSM
// (tracked runs; a run whose last event is in flight is checked against
// the FSM).
func (l *leader) activeCount(schedID string) int {
	n := 0
	for rs := l.bySched[schedID]; rs != nil; rs = rs.nextOfSched {
		if rs.busy {
			if r, ok := l.fsm.Run(rs.id); !ok || r.Status.Terminal() {
				continue
			}
		}
		n++
	}
	return n
}

func (l *leader) hasBuffered(schedID string) bool {
	for rs := l.bySched[schedID]; rs != nil; rs = rs.nextOfSched {
		if rs.buffered {
			return true
		}
	}
	return false
}

func (l *leader) othersActive(rs *runState) bool {
	for o := l.bySched[rs.schedID]; o != nil; o = o.nextOfSched {
		if o != rs && !o.buffered {
			return true
		}
	}
	return false
}

// place puts a (non-busy) run where its phase says: the deadline heap
// (due time, accept timeout, attempt timeout, back-off, adoption hold) or,
// when it may be dispatched now, straight to a handler with credit — or
// its handler's ready queue when none has credit. O(log n).
//
// No early fire: a waiting run never reaches a ready queue (nor a handler)
// before its DueAt, whoever decided it (a precommit, an adopted run); it
// waits in the deadline heap and is dispatched from the expiry at once.
func (l *leader) place(rs *runState, now time.Time) {
	l.unplace(rs)
	if rs.busy || l.runs[rs.id] != rs {
		return
	}
	switch rs.phase {
	case phaseSent:
		l.deadlineAt(rs, rs.sentAt.Add(l.d.cfg.AcceptTimeout))
	case phaseRunning:
		if !rs.deadline.IsZero() {
			l.deadlineAt(rs, rs.deadline)
		}
	default:
		if rs.dueAt.After(now) {
			l.deadlineAt(rs, rs.dueAt)
			return
		}
		if rs.buffered {
			if l.othersActive(rs) {
				return // untrack of the last other run places it
			}
			rs.buffered = false
		}
		if until := l.holdUntil(rs, now); !until.IsZero() {
			l.deadlineAt(rs, until)
			return
		}
		// After the hold: an adopted precommitted run that an earlier
		// leader did send is listed in its instance's hello (which clears
		// early), so it is not cancelled under that instance.
		if rs.early && l.recheck(rs, now) {
			return
		}
		if rs.notBefore.After(now) {
			l.deadlineAt(rs, rs.notBefore)
			return
		}
		l.ready(rs, now)
	}
}

func (l *leader) unplace(rs *runState) {
	switch rs.where {
	case whereReady:
		if q := l.queues[rs.handler]; q != nil {
			q.remove(rs)
		}
	case whereDeadline:
		l.deadlines.remove(rs)
	}
	rs.where = whereNone
}

func (l *leader) deadlineAt(rs *runState, t time.Time) {
	rs.hkey = nanos(t)
	l.deadlines.push(rs)
	rs.where = whereDeadline
}

// ready dispatches rs now when its handler queue is empty and an instance
// has credit; otherwise it queues rs in due order.
func (l *leader) ready(rs *runState, now time.Time) {
	s, ok := l.fsm.Get(rs.schedID)
	if !ok {
		l.untrack(rs, now)
		return
	}
	q := l.queues[s.Handler]
	if q == nil {
		q = new(runHeap)
		l.queues[s.Handler] = q
	}
	if len(*q) == 0 && l.tryDispatch(rs, s, now) {
		return
	}
	if len(*q) > 0 {
		l.dirty[s.Handler] = struct{}{} // older runs may be unservable: drain in order
	}
	rs.handler, rs.hkey = s.Handler, nanos(rs.dueAt)
	q.push(rs)
	rs.where = whereReady
}

// tryDispatch sends rs's current attempt to the best instance with credit.
// It reports false when no instance can take it now.
func (l *leader) tryDispatch(rs *runState, s *fsm.Schedule, now time.Time) bool {
	r, ok := l.fsm.Run(rs.id)
	if !ok || r.Status.Terminal() {
		l.untrack(rs, now)
		return true
	}
	h := l.pick(s, rs.prefer, "")
	if h == nil {
		return false
	}
	if err := l.sendDispatch(rs, r, s, h, now); err != nil && l.stopErr == nil {
		l.deadlineAt(rs, now.Add(sendRetryDelay))
	}
	return true
}

// flushReady drains the ready queues of handler names that got credit (or
// a newly queued run behind older ones) since the last step.
func (l *leader) flushReady(now time.Time) {
	for len(l.dirty) > 0 && l.stopErr == nil {
		for name := range l.dirty {
			delete(l.dirty, name)
			l.drain(name, now)
		}
	}
}

// drain dispatches queued runs of one handler name in (due, id) order
// while an instance has credit. Runs no instance with credit can serve
// (method filter, preferred instance) are skipped and put back.
func (l *leader) drain(name string, now time.Time) {
	q := l.queues[name]
	if q == nil {
		return
	}
	skipped := l.skipped[:0]
	for len(*q) > 0 && l.hasCredit(name) && l.stopErr == nil {
		rs := q.pop()
		rs.where = whereNone
		s, ok := l.fsm.Get(rs.schedID)
		switch {
		case !ok:
			l.untrack(rs, now)
		case s.Handler != name:
			l.ready(rs, now) // the schedule moved to another handler
		case !l.tryDispatch(rs, s, now):
			skipped = append(skipped, rs)
		}
	}
	for _, rs := range skipped {
		q.push(rs)
		rs.where = whereReady
	}
	clear(skipped)
	l.skipped = skipped[:0]
}

// sendDispatch sends the run's current attempt to h and takes a credit.
// Allocation budget: the deadline value (1, when the policy has a timeout);
// nominal/fired point into the immutable FSM record.
func (l *leader) sendDispatch(rs *runState, r *fsm.Run, s *fsm.Schedule, h *handlerState, now time.Time) error {
	m := wire.Message{Type: wire.TypeDispatch, RunID: r.ID, ScheduleID: r.ScheduleID, Method: s.Method, Params: s.Params,
		NominalAt: &r.NominalAt, FiredAt: &r.FiredAt, Attempt: rs.attempt}
	if t := time.Duration(s.Policy.Timeout); t > 0 {
		dl := now.Add(t)
		m.Deadline = &dl
	}
	if err := l.send(h.peer, m); err != nil {
		if !errors.Is(err, transport.ErrQueueFull) && !errors.Is(err, errLeadershipLost) {
			l.d.log.Debug("dispatch send", "run", r.ID, "instance", h.instance, "err", err)
		}
		return err
	}
	if rs.sentAt.IsZero() && rs.attempt == 1 {
		l.d.m.sendLateness.Observe(now.Sub(r.DueAt).Seconds())
	}
	h.inflight[rs.id] = true
	rs.phase, rs.instance, rs.sentAt, rs.rec, rs.early = phaseSent, h.instance, now, r, false
	l.place(rs, now)
	return nil
}

// expireRuns handles every run deadline that has passed.
func (l *leader) expireRuns(now time.Time) {
	ns := nanos(now)
	for len(l.deadlines) > 0 && l.deadlines[0].hkey <= ns && l.stopErr == nil {
		rs := l.deadlines.pop()
		rs.where = whereNone
		switch rs.phase {
		case phaseSent:
			l.acceptTimeout(rs, now)
		case phaseRunning:
			if h := l.hs[rs.instance]; h != nil {
				// The credit stays in use until the handler answers the cancel.
				_ = l.send(h.peer, wire.Message{Type: wire.TypeCancel, RunID: rs.id, Attempt: rs.attempt, Reason: "timeout"})
			}
			l.retryOrFail(rs, now, "timeout", fsm.RunFailed, "")
		default:
			l.place(rs, now) // back-off or hold over, or a send retry
		}
	}
}

// acceptTimeout re-sends an unaccepted dispatch (same attempt) to another
// instance, else to the same one; with no live instance the run waits.
func (l *leader) acceptTimeout(rs *runState, now time.Time) {
	s, ok := l.fsm.Get(rs.schedID)
	r, rok := l.fsm.Run(rs.id)
	if !ok || !rok || r.Status.Terminal() {
		l.untrack(rs, now)
		return
	}
	h := l.pick(s, "", rs.instance)
	if h == nil {
		h = l.hs[rs.instance]
	}
	if h == nil || h.state != stateLive {
		rs.phase = phaseWaiting
		l.place(rs, now)
		return
	}
	if err := l.sendDispatch(rs, r, s, h, now); err != nil && l.stopErr == nil {
		l.deadlineAt(rs, now.Add(sendRetryDelay))
	}
}

// holdUntil is when an adopted run may be dispatched (zero: now). A run
// interrupted by the failover may be executing at an instance the new
// leader has not heard from yet. Every connected handler says hello to a
// new leader within one heartbeat and lists the runs it has
// (wire.Message.Running), which sets prefer. A run whose preferred instance
// is known but not live yet waits up to the liveness window for it; any
// other adopted run waits 1.5 heartbeats. Dispatching it elsewhere sooner
// would execute it twice.
//
// The hold ends early once every instance registered in the FSM has said
// hello to this leader with a complete running list, or has expired
// (l.unheard == 0), provided the run's preferred instance (if any) is live:
// instances receive dispatches only once registered (pick), so no other
// instance can hold the run.
func (l *leader) holdUntil(rs *runState, now time.Time) time.Time {
	if !rs.adopted {
		return time.Time{}
	}
	hb := l.d.cfg.HeartbeatInterval
	hold, preferLive := hb+hb/2, true
	if rs.prefer != "" {
		if h := l.hs[rs.prefer]; h == nil || h.state != stateLive {
			hold, preferLive = time.Duration(l.d.cfg.Liveness)*hb, false
		}
	}
	until := l.gainedAt.Add(hold)
	if !now.Before(until) || (l.unheard == 0 && preferLive) {
		rs.adopted = false
		return time.Time{}
	}
	return until
}

// rehold re-places held runs after something their hold depends on
// changed (a hello, a loss, the last registered instance heard from).
func (l *leader) rehold(now time.Time) {
	kept := l.held[:0]
	for _, rs := range l.held {
		if !rs.adopted || l.runs[rs.id] != rs {
			continue
		}
		if rs.where == whereDeadline && rs.phase == phaseWaiting {
			l.place(rs, now)
		}
		if rs.adopted {
			kept = append(kept, rs)
		}
	}
	clear(l.held[len(kept):])
	l.held = kept
}

// retryOrFail ends the current attempt: run.retried with back-off while
// attempts remain, else terminal (run.failed or run.lost). peer, when
// set, receives result_ack once committed.
func (l *leader) retryOrFail(rs *runState, now time.Time, msg string, terminal fsm.EventType, peer string) {
	s, ok := l.fsm.Get(rs.schedID)
	if !ok {
		l.untrack(rs, now)
		return
	}
	l.unplace(rs)
	rs.busy = true
	attempt := rs.attempt
	if attempt < 1+s.Policy.MaxRetries {
		nb := now.Add(backoff(time.Duration(s.Policy.RetryBackoff), attempt))
		l.push(pending{kind: kindRetried, rs: rs, peer: peer,
			ev: fsm.Event{Type: fsm.RunRetried, RunID: rs.id, Attempt: attempt, Error: msg, NotBefore: &nb}})
		return
	}
	l.push(pending{kind: kindTerminal, rs: rs, peer: peer, ev: fsm.Event{Type: terminal, RunID: rs.id, Attempt: attempt, Error: msg}})
}

func backoff(base time.Duration, attempt int) time.Duration {
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// retried applies a committed run.retried: the next attempt waits for its
// back-off.
func (l *leader) retried(p *pending, res fsm.Result, now time.Time) {
	rs := p.rs
	if res.Err != nil || l.runs[rs.id] != rs {
		l.idle(rs, res.Err, now)
		return
	}
	l.d.m.retries.Inc()
	rs.busy = false
	rs.attempt, rs.phase, rs.instance, rs.deadline, rs.prefer, rs.rec = res.Run.Attempt, phaseWaiting, "", time.Time{}, "", res.Run
	rs.notBefore = time.Time{}
	if res.Run.NotBefore != nil {
		rs.notBefore = *res.Run.NotBefore
	}
	l.afterIdle(rs, now)
}

// cancelActive queues run.cancelled for the schedule's active runs
// (overlap cancel_other); their handlers are told once it is committed.
// A run with an event in flight is cancelled when that event returns.
func (l *leader) cancelActive(schedID string) {
	for rs := l.bySched[schedID]; rs != nil; rs = rs.nextOfSched {
		if rs.busy {
			rs.cancelWanted = true
			continue
		}
		l.cancelRun(rs, msgCancelOther)
	}
}

// Errors recorded on runs the leader cancels.
const (
	msgCancelOther  = "overlap: cancel_other"
	msgPausedEarly  = "schedule paused before its due time"
	msgChangedEarly = "schedule changed before its due time"
)

// cancelRun queues run.cancelled for rs's current attempt with msg as the
// run's error.
func (l *leader) cancelRun(rs *runState, msg string) {
	l.unplace(rs)
	rs.busy = true
	l.push(pending{kind: kindCancelled, rs: rs,
		ev: fsm.Event{Type: fsm.RunCancelled, RunID: rs.id, Attempt: rs.attempt, Error: msg}})
}

// recheck is the due-time check of a precommitted run (rs.early, called by
// place once its due time has come and any adoption hold is over): a
// schedule change committed after the decision (UpdatedAt not before
// FiredAt) and by the due time applies to the run as it would have to a
// decision taken at the due time. Paused → cancelled; the nominal time no
// longer an occurrence of the schedule (trigger, start_at, end_at or
// max_runs changed) → cancelled; otherwise the run goes, with the
// schedule's current method and params. A deleted schedule's run is
// forgotten (the FSM dropped it). A change after the due time does not
// apply, as to any decided run. It reports whether the run is no longer
// to be placed. The flag stays set until the run is let go, so a cancel
// whose commit fails is rechecked.
func (l *leader) recheck(rs *runState, now time.Time) bool {
	s, ok := l.fsm.Get(rs.schedID)
	if !ok {
		l.untrack(rs, now)
		return true
	}
	r := rs.rec
	// UpdatedAt equal to FiredAt: the change may share the decision's log
	// entry (and precede it there), so it is checked too.
	if s.UpdatedAt.Before(r.FiredAt) || s.UpdatedAt.After(r.DueAt) {
		rs.early = false
		return false
	}
	msg := ""
	switch {
	case s.Paused:
		msg = msgPausedEarly
	case !l.occurs(s, r):
		msg = msgChangedEarly
	default:
		rs.early = false
		return false
	}
	l.d.log.Info("precommitted run cancelled", "run", rs.id, "reason", msg)
	l.cancelRun(rs, msg)
	return true
}

// occurs reports whether r's nominal time is still an occurrence of s
// that may fire: an occurrence of its trigger, within start_at and end_at,
// and within max_runs (FiredRuns counts r and every later automatic fire,
// which are all still active: none can be dispatched before r).
func (l *leader) occurs(s *fsm.Schedule, r *fsm.Run) bool {
	trig, err := l.trigger(s)
	if err != nil || (s.StartAt != nil && r.NominalAt.Before(*s.StartAt)) {
		return false
	}
	if n, ok := nextAfter(s, trig, r.NominalAt.Add(-time.Nanosecond)); !ok || !n.Equal(r.NominalAt) {
		return false
	}
	if s.MaxRuns == 0 {
		return true
	}
	pos := s.FiredRuns // r's position among the schedule's fired runs
	for _, o := range l.fsm.ActiveRunsOf(s.ID) {
		if o.Trigger != fsm.TriggerManual && o.NominalAt.After(r.NominalAt) {
			pos--
		}
	}
	return pos <= s.MaxRuns
}

func (l *leader) cancelled(p *pending, res fsm.Result, now time.Time) {
	rs := p.rs
	if h := l.hs[rs.instance]; h != nil && rs.phase != phaseWaiting {
		_ = l.send(h.peer, wire.Message{Type: wire.TypeCancel, RunID: rs.id, Attempt: p.ev.Attempt, Reason: "overlap"})
	}
	if res.Err == nil {
		rs.busy = false
		l.untrack(rs, now)
		return
	}
	l.idle(rs, res.Err, now)
}

// finished forgets a run whose terminal event was committed.
func (l *leader) finished(rs *runState, now time.Time) {
	rs.busy = false
	l.untrack(rs, now)
}

// idle ends a run's busy period (its event was answered). After an error
// the in-memory state is re-read from the FSM.
func (l *leader) idle(rs *runState, err error, now time.Time) {
	if l.runs[rs.id] != rs {
		return
	}
	rs.busy = false
	if err != nil {
		if alive, _ := l.reconcile(rs, now); !alive {
			return
		}
	}
	l.afterIdle(rs, now)
}

// afterIdle does what waited for the run's commit: a parked result, a
// cancel, the loss of its instance meanwhile; then places it.
func (l *leader) afterIdle(rs *runState, now time.Time) {
	if in := rs.parked; in != nil {
		rs.parked = nil
		l.result(*in, l.instanceOf(*in), now)
		if rs.busy || l.runs[rs.id] != rs {
			return
		}
	}
	if rs.cancelWanted {
		rs.cancelWanted = false
		l.cancelRun(rs, msgCancelOther)
		return
	}
	if rs.phase != phaseWaiting {
		if h := l.hs[rs.instance]; h == nil || h.state != stateLive {
			if rs.phase == phaseRunning {
				l.retryOrFail(rs, now, "handler instance lost", fsm.RunLost, "")
				return
			}
			rs.phase = phaseWaiting
		}
	}
	l.place(rs, now)
}

// reconcile aligns a non-busy run with its FSM record: alive=false when
// the run is gone or finished (it is untracked), changed=true when its
// attempt moved (it is reset to waiting).
func (l *leader) reconcile(rs *runState, now time.Time) (alive, changed bool) {
	r, ok := l.fsm.Run(rs.id)
	if !ok || r.Status.Terminal() {
		l.untrack(rs, now)
		return false, false
	}
	rs.rec = r
	if r.Attempt == rs.attempt {
		return true, false
	}
	if rs.phase == phaseRunning {
		if h := l.hs[rs.instance]; h != nil && h.inflight[rs.id] {
			delete(h.inflight, rs.id)
			l.credit(h)
		}
	}
	rs.attempt, rs.phase, rs.instance, rs.deadline, rs.prefer = r.Attempt, phaseWaiting, "", time.Time{}, r.HandlerInstance
	rs.notBefore = time.Time{}
	if r.NotBefore != nil {
		rs.notBefore = *r.NotBefore
	}
	return true, true
}

// syncRun applies one run change from the feed: O(1).
func (l *leader) syncRun(id string, now time.Time) {
	rs := l.runs[id]
	if rs != nil && rs.busy {
		return // the commit's completion re-reads it
	}
	r, ok := l.fsm.Run(id)
	if rs != nil {
		if ok && rs.rec == r {
			return
		}
		if alive, changed := l.reconcile(rs, now); alive && changed {
			l.place(rs, now)
		}
		return
	}
	if !ok || r.Status.Terminal() {
		return
	}
	if ss := l.scheds[r.ScheduleID]; ss != nil && ss.flags&schedInflight != 0 {
		// Its schedule's decision is in flight. An automatic run can only
		// be that decision (this node is the only one deciding): its
		// callback tracks it, with its buffer_one flag. A manual run is
		// adopted when the group completes.
		if r.Trigger == fsm.TriggerManual {
			ss.flags |= schedRunsDirty
		}
		return
	}
	l.adopt(r, now)
}

// syncRunsOf adopts the untracked active runs of one schedule.
func (l *leader) syncRunsOf(schedID string, now time.Time) {
	for _, r := range l.fsm.ActiveRunsOf(schedID) {
		if l.runs[r.ID] == nil {
			l.adopt(r, now)
		}
	}
}
