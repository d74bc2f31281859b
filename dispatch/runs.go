package dispatch

import (
	"errors"
	"sort"
	"time"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

type runPhase int

const (
	phaseWaiting runPhase = iota // needs a dispatch (no handler yet, back-off, buffered)
	phaseSent                    // dispatched, waiting for accepted
	phaseRunning                 // accepted by instance
)

// runState is the leader's in-memory view of one active run.
type runState struct {
	id, schedID string
	attempt     int
	dueAt       time.Time
	phase       runPhase
	instance    string // current assignee
	sentAt      time.Time
	deadline    time.Time // attempt timeout, from acceptance
	notBefore   time.Time
	buffered    bool // buffer_one: hold until the schedule's other runs finish
	prefer      string
	busy        bool // an event for this attempt is being committed
	// adopted: found in the FSM rather than fired by this leader (failover);
	// it is held back briefly after the leadership gain so the instance
	// that may already run it can say hello first (see adoptionHold).
	adopted bool
}

func (r *runState) wakeAt(now time.Time, acceptTimeout time.Duration) time.Time {
	if r.busy || (r.phase == phaseWaiting && !r.notBefore.After(now)) {
		return time.Time{}
	}
	switch r.phase {
	case phaseSent:
		return r.sentAt.Add(acceptTimeout)
	case phaseRunning:
		return r.deadline
	default:
		return r.notBefore
	}
}

// track starts tracking a committed active run (idempotent).
func (l *leader) track(r *fsm.Run) *runState {
	if rs, ok := l.runs[r.ID]; ok {
		return rs
	}
	rs := &runState{id: r.ID, schedID: r.ScheduleID, attempt: r.Attempt, dueAt: r.DueAt, prefer: r.HandlerInstance}
	if r.NotBefore != nil {
		rs.notBefore = *r.NotBefore
	}
	l.runs[r.ID] = rs
	return rs
}

// untrack forgets a run. Only the instance it was accepted by gets its
// credit back: an instance that was sent the run and never answered keeps
// the credit in use until it answers or is lost, so a stalled instance
// never holds more than its capacity.
func (l *leader) untrack(id string) {
	if rs, ok := l.runs[id]; ok && rs.phase == phaseRunning {
		if h := l.hs[rs.instance]; h != nil {
			delete(h.inflight, id)
		}
	}
	delete(l.runs, id)
}

// adoptActiveRuns tracks every active run of the FSM this loop does not
// know yet (failover, manual triggers, unknown-outcome proposals) and drops
// tracked runs the FSM has finished.
func (l *leader) adoptActiveRuns() {
	active := map[string]bool{}
	for _, r := range l.d.cfg.Cluster.FSM().ActiveRuns() {
		active[r.ID] = true
		_, known := l.runs[r.ID]
		rs := l.track(r)
		if !known && r.FiredAt.Before(l.gainedAt) {
			rs.adopted = true // decided under an earlier leadership
		}
		if rs.attempt != r.Attempt && !rs.busy { // moved on behind our back
			l.untrack(r.ID)
			l.track(r)
		}
	}
	for id, rs := range l.runs {
		if !active[id] && !rs.busy {
			l.untrack(id)
		}
	}
}

// dispatchPending sends every waiting run that may go now to a handler
// with free credit.
func (l *leader) dispatchPending(now time.Time) error {
	var waiting []*runState
	for _, rs := range l.runs {
		if rs.phase == phaseWaiting && !rs.notBefore.After(now) && !rs.busy {
			waiting = append(waiting, rs)
		}
	}
	sort.Slice(waiting, func(i, j int) bool {
		if !waiting[i].dueAt.Equal(waiting[j].dueAt) {
			return waiting[i].dueAt.Before(waiting[j].dueAt)
		}
		return waiting[i].id < waiting[j].id
	})
	f := l.d.cfg.Cluster.FSM()
	for _, rs := range waiting {
		if rs.buffered && l.othersActive(rs) {
			continue
		}
		rs.buffered = false
		if l.adoptionHold(rs, now) {
			continue
		}
		s, ok := f.Get(rs.schedID)
		r, rok := f.Run(rs.id)
		if !ok || !rok || r.Status.Terminal() {
			l.untrack(rs.id)
			continue
		}
		h := l.pick(s, rs.prefer, "")
		if h == nil {
			continue
		}
		if err := l.sendDispatch(rs, r, s, h, now); errors.Is(err, errLeadershipLost) {
			return err
		}
	}
	return nil
}

// adoptionHold reports whether an adopted run must wait before it is
// dispatched: a run interrupted by the failover may be executing at an
// instance the new leader has not heard from yet. Every connected handler
// says hello to a new leader within one heartbeat and lists the runs it has
// (wire.Message.Running), which sets prefer. A run whose preferred instance
// is known but not live yet waits up to the liveness window for it; any
// other adopted run waits 1.5 heartbeats. Dispatching it elsewhere sooner
// would execute it twice.
func (l *leader) adoptionHold(rs *runState, now time.Time) bool {
	if !rs.adopted {
		return false
	}
	hb := l.d.cfg.HeartbeatInterval
	hold := hb + hb/2
	if rs.prefer != "" {
		if h := l.hs[rs.prefer]; h == nil || h.state != stateLive {
			hold = time.Duration(l.d.cfg.Liveness) * hb
		}
	}
	if now.Before(l.gainedAt.Add(hold)) {
		return true
	}
	rs.adopted = false
	return false
}

func (l *leader) othersActive(rs *runState) bool {
	for _, r := range l.d.cfg.Cluster.FSM().ActiveRunsOf(rs.schedID) {
		if r.ID != rs.id {
			if o, ok := l.runs[r.ID]; !ok || !o.buffered {
				return true
			}
		}
	}
	return false
}

func (l *leader) hasBuffered(schedID string) bool {
	for _, rs := range l.runs {
		if rs.schedID == schedID && rs.buffered {
			return true
		}
	}
	return false
}

// sendDispatch sends the run's current attempt to h and takes a credit.
func (l *leader) sendDispatch(rs *runState, r *fsm.Run, s *fsm.Schedule, h *handlerState, now time.Time) error {
	nominal, fired := r.NominalAt, r.FiredAt
	m := wire.Message{Type: wire.TypeDispatch, RunID: r.ID, ScheduleID: r.ScheduleID, Method: s.Method, Params: s.Params,
		NominalAt: &nominal, FiredAt: &fired, Attempt: rs.attempt}
	if t := time.Duration(s.Policy.Timeout); t > 0 {
		dl := now.Add(t)
		m.Deadline = &dl
	}
	if err := l.send(h.peer, m); err != nil {
		if !errors.Is(err, transport.ErrQueueFull) {
			l.d.log.Debug("dispatch send", "run", r.ID, "instance", h.instance, "err", err)
		}
		return err
	}
	h.inflight[rs.id] = true
	rs.phase, rs.instance, rs.sentAt = phaseSent, h.instance, now
	return nil
}

// checkRuns re-sends unaccepted dispatches and times out attempts.
func (l *leader) checkRuns(now time.Time) error {
	var ps []pending
	f := l.d.cfg.Cluster.FSM()
	for _, rs := range l.runs {
		if rs.busy {
			continue
		}
		switch {
		case rs.phase == phaseSent && !now.Before(rs.sentAt.Add(l.d.cfg.AcceptTimeout)):
			s, ok := f.Get(rs.schedID)
			r, rok := f.Run(rs.id)
			if !ok || !rok {
				l.untrack(rs.id)
				continue
			}
			h := l.pick(s, "", rs.instance)
			if h == nil {
				h = l.hs[rs.instance]
			}
			if h == nil || h.state != stateLive {
				rs.phase = phaseWaiting
				continue
			}
			if err := l.sendDispatch(rs, r, s, h, now); errors.Is(err, errLeadershipLost) {
				return err
			}
		case rs.phase == phaseRunning && !rs.deadline.IsZero() && !now.Before(rs.deadline):
			if h := l.hs[rs.instance]; h != nil {
				// The credit stays in use until the handler answers the cancel.
				_ = l.send(h.peer, wire.Message{Type: wire.TypeCancel, RunID: rs.id, Attempt: rs.attempt, Reason: "timeout"})
			}
			ps = append(ps, l.retryOrFail(rs, now, "timeout", fsm.RunFailed)...)
		}
	}
	return l.commitNonFatal(ps)
}

// commitNonFatal commits ps; only a lost leadership is returned.
func (l *leader) commitNonFatal(ps []pending) error {
	if len(ps) == 0 {
		return nil
	}
	err := l.commit(ps)
	if fatal(err) {
		return err
	}
	if err != nil {
		l.d.log.Warn("commit failed; state is re-read from the FSM", "err", err)
		for _, p := range ps {
			if rs, ok := l.runs[p.ev.RunID]; ok {
				rs.busy = false
			}
		}
	}
	return nil
}

// retryOrFail ends the current attempt: run.retried with back-off while
// attempts remain, else terminal (run.failed or run.lost).
func (l *leader) retryOrFail(rs *runState, now time.Time, msg string, terminal fsm.EventType) []pending {
	s, ok := l.d.cfg.Cluster.FSM().Get(rs.schedID)
	if !ok {
		l.untrack(rs.id)
		return nil
	}
	rs.busy = true
	attempt := rs.attempt
	if attempt < 1+s.Policy.MaxRetries {
		nb := now.Add(backoff(time.Duration(s.Policy.RetryBackoff), attempt))
		return []pending{{ev: fsm.Event{Type: fsm.RunRetried, RunID: rs.id, Attempt: attempt, Error: msg, NotBefore: &nb},
			then: func(res fsm.Result) {
				rs.busy = false
				if res.Err != nil {
					l.untrack(rs.id) // adoptActiveRuns re-reads it if still active
					return
				}
				l.d.m.retries.Inc()
				rs.attempt, rs.phase, rs.notBefore, rs.instance, rs.deadline, rs.prefer = res.Run.Attempt, phaseWaiting, nb, "", time.Time{}, ""
			}}}
	}
	return []pending{{ev: fsm.Event{Type: terminal, RunID: rs.id, Attempt: attempt, Error: msg}, then: func(res fsm.Result) {
		if res.Err == nil && terminal == fsm.RunLost {
			l.d.m.lost.Inc()
		}
		l.untrack(rs.id)
	}}}
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

// cancelActive commits run.cancelled for the schedule's active runs
// (overlap cancel_other) and tells their handlers afterwards.
func (l *leader) cancelActive(schedID string) []pending {
	var ps []pending
	for _, r := range l.d.cfg.Cluster.FSM().ActiveRunsOf(schedID) {
		r := r
		ps = append(ps, pending{ev: fsm.Event{Type: fsm.RunCancelled, RunID: r.ID, Attempt: r.Attempt, Error: "overlap: cancel_other"},
			then: func(res fsm.Result) {
				if rs, ok := l.runs[r.ID]; ok {
					if h := l.hs[rs.instance]; h != nil && rs.phase != phaseWaiting {
						_ = l.send(h.peer, wire.Message{Type: wire.TypeCancel, RunID: r.ID, Attempt: r.Attempt, Reason: "overlap"})
					}
				}
				if res.Err == nil {
					l.untrack(r.ID)
				}
			}})
	}
	return ps
}
