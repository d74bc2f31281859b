package dispatch

import (
	"errors"
	"math"
	"time"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

// commitRetryDelay spaces retries of fire decisions whose commit failed.
const commitRetryDelay = 200 * time.Millisecond

// triggerCacheMax bounds the compiled cron triggers kept by spec. Cron and
// zone parsing dominate Compile; most schedules share few specs. The cache
// is cleared when full (a bounded, allocation-free eviction policy).
const triggerCacheMax = 1 << 12

// schedState is the leader's timer for one schedule that has a next
// occurrence (or a decision in flight). Schedules without one (paused,
// ended, max_runs reached, trigger does not compile) have no schedState.
//
// Memory budget: 24 bytes (size class 24) plus its share of the scheds map
// (~40–60 B) and of the timer heap (8–16 B): ≈ 100 B per idle schedule,
// measured by TestLeader_MemoryPerSchedule. The next nominal time is not
// stored: it is recomputed from the schedule (floorOf) when the timer
// fires, which is also what makes every FSM change (update, pause, HWM)
// restart the timer correctly.
type schedState struct {
	s *fsm.Schedule // the FSM value the timer was computed from
	// due is the timer-heap key, unix ns (clamped): when the next
	// occurrence is decided. That is its due time (nominal + jitter) minus
	// Config.Lookahead, or the due time itself when an early decision was
	// deferred because of overlap (decide), or a commit retry time.
	due   int64
	index int32 // position in the timer heap, -1 when absent
	flags schedFlags
}

type schedFlags uint8

const (
	// schedInflight: a decision group is proposed and not yet answered; the
	// schedule is out of the heap and is re-armed from the FSM when the
	// group completes (the FSM's high-water mark rejects a duplicate
	// decision anyway).
	schedInflight schedFlags = 1 << iota
	// schedRunsDirty: a run of this schedule appeared while its decision was
	// in flight and was not tracked (the completion adopts it).
	schedRunsDirty
)

var (
	maxNanosTime = time.Unix(0, math.MaxInt64)
	minNanosTime = time.Unix(0, math.MinInt64)
)

// nanos is t as unix nanoseconds, clamped to int64 (fire times reach year
// 9999; anything past 2262 is simply never due).
func nanos(t time.Time) int64 {
	switch {
	case t.After(maxNanosTime):
		return math.MaxInt64
	case t.Before(minNanosTime):
		return math.MinInt64
	}
	return t.UnixNano()
}

// floorOf is the instant after which a schedule's next occurrence lies.
func floorOf(s *fsm.Schedule) time.Time {
	f := s.UpdatedAt
	if f.IsZero() {
		f = s.CreatedAt
	}
	if s.LastNominalAt != nil && s.LastNominalAt.After(f) {
		f = *s.LastNominalAt
	}
	if s.StartAt != nil && s.StartAt.Add(-time.Nanosecond).After(f) {
		f = s.StartAt.Add(-time.Nanosecond)
	}
	return f
}

// trigger compiles s's trigger. Cron triggers do not depend on the anchor
// and are cached by spec; every and at triggers are cheap to compile
// (one small allocation) and are compiled when needed, never stored.
func (l *leader) trigger(s *fsm.Schedule) (trigger.Trigger, error) {
	if s.Trigger.Cron == "" {
		return trigger.Compile(s.Trigger, s.Anchor())
	}
	if t, ok := l.trigs[s.Trigger]; ok {
		return t, nil
	}
	t, err := trigger.Compile(s.Trigger, s.Anchor())
	if err != nil {
		return nil, err
	}
	if len(l.trigs) >= triggerCacheMax {
		clear(l.trigs)
	}
	l.trigs[s.Trigger] = t
	return t, nil
}

// nextAfter is s's first occurrence strictly after t that may fire
// (not paused, before end_at); ok=false when there is none.
func nextAfter(s *fsm.Schedule, trig trigger.Trigger, t time.Time) (time.Time, bool) {
	if s.Paused {
		return time.Time{}, false
	}
	n, ok := trig.Next(t)
	if !ok || (s.EndAt != nil && n.After(*s.EndAt)) {
		return time.Time{}, false
	}
	return n, true
}

// nextDue is the due time of s's next occurrence, respecting pause,
// end_at and max_runs; ok=false when the schedule needs no timer.
func (l *leader) nextDue(s *fsm.Schedule) (int64, bool) {
	if s.Paused || (s.MaxRuns > 0 && s.FiredRuns >= s.MaxRuns) {
		return 0, false
	}
	trig, err := l.trigger(s)
	if err != nil {
		l.d.log.Error("schedule trigger does not compile; not scheduling", "schedule", s.ID, "err", err)
		return 0, false
	}
	n, ok := nextAfter(s, trig, floorOf(s))
	if !ok {
		return 0, false
	}
	return nanos(n.Add(jitter(s, trig, n))), true
}

// setSchedule (re)arms the timer of s from its FSM value; O(log n).
// Allocation budget: 1 schedState for a schedule that gains a timer, plus
// the trigger compile of an every/at schedule (1 small object).
func (l *leader) setSchedule(ss *schedState, s *fsm.Schedule) {
	due, ok := l.nextDue(s)
	if !ok {
		if ss != nil {
			l.timers.remove(ss)
			delete(l.scheds, s.ID)
		}
		return
	}
	if ss == nil {
		ss = &schedState{index: -1}
		l.scheds[s.ID] = ss
	}
	ss.s, ss.due = s, l.decideAt(due)
	l.timers.set(ss)
}

// decideAt is when an occurrence due at due (unix ns) is decided:
// Config.Lookahead earlier (saturating; never-due stays never-due).
func (l *leader) decideAt(due int64) int64 {
	la := int64(l.d.cfg.Lookahead)
	if la <= 0 || due == math.MaxInt64 || due < math.MinInt64+la {
		return due
	}
	return due - la
}

// syncSchedule applies one schedule change from the feed.
func (l *leader) syncSchedule(id string) {
	ss := l.scheds[id]
	if ss != nil && ss.flags&schedInflight != 0 {
		return // the completion of its decision re-arms it from the FSM
	}
	s, ok := l.fsm.Get(id)
	if !ok {
		if ss != nil {
			l.timers.remove(ss)
			delete(l.scheds, id)
		}
		return
	}
	if ss != nil && ss.s == s {
		return // already armed from this value (FSM values are immutable)
	}
	l.setSchedule(ss, s)
}

// jitter is the deterministic offset of an occurrence: hash(schedule,
// nominal) mod min(policy.jitter, next−nominal). The hash is FNV-1a 64
// over the ID and the RFC 3339 nominal time, computed without allocating.
func jitter(s *fsm.Schedule, trig trigger.Trigger, nominal time.Time) time.Duration {
	span := time.Duration(s.Policy.Jitter)
	if span <= 0 {
		return 0
	}
	if next, ok := trig.Next(nominal); ok && next.Sub(nominal) < span {
		span = next.Sub(nominal)
	}
	if span <= 0 {
		return 0
	}
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(s.ID); i++ {
		h = (h ^ uint64(s.ID[i])) * prime64
	}
	var buf [64]byte
	for _, c := range nominal.UTC().AppendFormat(buf[:0], time.RFC3339Nano) {
		h = (h ^ uint64(c)) * prime64
	}
	return time.Duration(h % uint64(span))
}

// runID is fsm.RunID with one allocation instead of two (tested equal).
func runID(scheduleID string, nominal time.Time) string {
	var buf [96]byte
	b := append(buf[:0], scheduleID...)
	b = append(b, '@')
	b = nominal.UTC().AppendFormat(b, time.RFC3339Nano)
	return string(b)
}

// fireDue takes every schedule whose timer has expired (its next
// occurrence is due by now + Lookahead) out of the timer heap and queues
// its decisions, as long as the commit pipeline has room (backpressure:
// the rest stay due in the heap and are taken on a later step).
func (l *leader) fireDue(now time.Time) {
	ns := nanos(now)
	for len(l.timers) > 0 && l.timers[0].due <= ns && l.room() {
		l.decide(l.timers.pop(), now)
	}
}

// decide queues one decision per occurrence of ss due by now (or, with a
// lookahead, by now + Lookahead: precommitted), as one group that
// completes in commitDone. Occurrences beyond CatchupCap are dropped
// (covered by the high-water mark); at most MaxFiresPerBatch are decided
// per pass, the rest on the next pass after this group commits.
//
// An early occurrence of a schedule whose overlap policy is not allow is
// decided early only alone and only when the schedule has no active run:
// otherwise its overlap decision must see the state at its due time, so
// its timer is re-armed at the real due time (no scan: the check costs
// O(runs of the schedule), once per early pop).
//
// Allocation budget per decided occurrence: the run ID string (1); the
// every/at trigger compile (1 per schedule per pass).
func (l *leader) decide(ss *schedState, now time.Time) {
	s := ss.s
	trig, err := l.trigger(s)
	if err != nil {
		l.setSchedule(ss, s) // drops the timer and logs
		return
	}
	slots, dropped := l.dueSlots(s, trig, now)
	if dropped > 0 {
		l.d.m.dropped.Add(float64(dropped))
		l.d.m.missed.Add(float64(dropped))
		l.d.log.Warn("catch-up cap reached; older occurrences only advance the high-water mark", "schedule", s.ID, "dropped", dropped)
	}
	if len(slots) == 0 {
		l.setSchedule(ss, s)
		return
	}
	active := l.activeCount(s.ID)
	if s.Policy.Overlap != fsm.OverlapAllow && active > 0 {
		// Only an early occurrence can be alone here (dueSlots); decide it at its due time.
		if due := slots[0].Add(jitter(s, trig, slots[0])); due.After(now) {
			ss.due = nanos(due)
			l.timers.set(ss)
			return
		}
	}
	ss.flags |= schedInflight
	start := len(l.pend)
	for _, n := range slots {
		l.decision(ss, trig, n, now, active)
	}
	for i := start; i < len(l.pend)-1; i++ {
		l.pend[i].end = false // one group: never split across proposals
	}
	l.pend[len(l.pend)-1].end = true
	l.pend[len(l.pend)-1].ss = ss
}

// dueSlots lists s's occurrences due by now + Lookahead in nominal order:
// the newest CatchupCap (older ones are counted as dropped), then at most
// MaxFiresPerBatch of those. Unless the overlap policy is allow, an early
// occurrence (due after now) is listed only alone: it ends the list, and
// is left out when an occurrence already due precedes it (its overlap
// decision depends on that one's run). The slice is reused across calls.
func (l *leader) dueSlots(s *fsm.Schedule, trig trigger.Trigger, now time.Time) ([]time.Time, int) {
	capN := l.d.cfg.CatchupCap
	ring, head, dropped := l.slots[:0], 0, 0
	fired := s.FiredRuns
	horizon := now.Add(l.d.cfg.Lookahead)
	for n, ok := nextAfter(s, trig, floorOf(s)); ok; n, ok = nextAfter(s, trig, n) {
		due := n.Add(jitter(s, trig, n))
		if due.After(horizon) || (s.MaxRuns > 0 && fired >= s.MaxRuns) {
			break
		}
		if due.After(now) && s.Policy.Overlap != fsm.OverlapAllow {
			if len(ring) == 0 {
				ring = append(ring, n)
			}
			break
		}
		if now.Sub(n) <= time.Duration(s.Policy.CatchupWindow) {
			fired++
		}
		if len(ring) < capN {
			ring = append(ring, n)
			continue
		}
		ring[head] = n // overwrite the oldest
		head = (head + 1) % capN
		dropped++
	}
	if head > 0 { // rotate into nominal order
		l.slotsTmp = append(append(l.slotsTmp[:0], ring[head:]...), ring[:head]...)
		ring = append(ring[:0], l.slotsTmp...)
	}
	l.slots = ring
	return ring[:min(len(ring), l.d.cfg.MaxFiresPerBatch)], dropped
}

// decision queues the event(s) for occurrence n of ss.
func (l *leader) decision(ss *schedState, trig trigger.Trigger, n, now time.Time, active int) {
	s := ss.s
	due := n.Add(jitter(s, trig, n))
	p := l.push(pending{kind: kindDecision, ev: fsm.Event{Type: fsm.RunFired}})
	p.run = fsm.Run{ID: runID(s.ID, n), ScheduleID: s.ID, NominalAt: n, DueAt: due, Trigger: fsm.TriggerScheduled}
	if due.Before(l.gainedAt) {
		p.run.Trigger = fsm.TriggerCatchup
	}
	switch {
	case now.Sub(n) > time.Duration(s.Policy.CatchupWindow):
		p.ev.Type, p.ev.Error = fsm.RunMissed, "outside catchup window"
	case active == 0 || p.run.Trigger != fsm.TriggerScheduled || s.Policy.Overlap == fsm.OverlapAllow:
	case s.Policy.Overlap == fsm.OverlapBufferOne && !l.hasBuffered(s.ID):
		p.buffered = true
	case s.Policy.Overlap == fsm.OverlapBufferOne:
		p.ev.Type, p.ev.Error = fsm.RunSkipped, "overlap"
	case s.Policy.Overlap == fsm.OverlapCancelOther:
		// The cancels go before the fire, in the same entry.
		fire := *p
		l.pend = l.pend[:len(l.pend)-1]
		l.cancelActive(s.ID)
		l.push(fire)
	default:
		p.ev.Type, p.ev.Error = fsm.RunSkipped, "overlap"
	}
}

// decisionDone handles the result of one committed decision.
func (l *leader) decisionDone(p *pending, res fsm.Result, now time.Time) {
	switch {
	case res.Err == nil:
		switch {
		case p.ev.Type == fsm.RunMissed:
			l.d.m.firesMissed.Inc()
			l.d.m.missed.Inc()
		case p.ev.Type == fsm.RunSkipped:
			l.d.m.firesSkipped.Inc()
		case p.run.Trigger == fsm.TriggerCatchup:
			l.d.m.firesCatchup.Inc()
		default:
			l.d.m.firesFired.Inc()
		}
		if p.ev.Type == fsm.RunFired {
			// Due → commit; a precommit returning before the due time counts 0.
			l.d.m.fireCommit.Observe(max(0, now.Sub(p.run.DueAt).Seconds()))
			rs := l.track(res.Run)
			rs.buffered = p.buffered
			l.place(rs, now) // dispatches at once when a handler has credit
		}
	case errors.Is(res.Err, fsm.ErrStale), errors.Is(res.Err, fsm.ErrExists):
		// Someone already decided: adopt the run if it is active.
		if ss := p.ss; ss != nil {
			ss.flags |= schedRunsDirty
		} else if ss := l.scheds[p.run.ScheduleID]; ss != nil {
			ss.flags |= schedRunsDirty
		}
	case errors.Is(res.Err, fsm.ErrNotFound): // deleted meanwhile
	default:
		l.d.log.Error("fire decision rejected", "run", p.run.ID, "err", res.Err)
	}
}

// groupDone re-arms a schedule whose decision group has completed (retry
// is true when the commit's outcome is unknown: the same occurrences are
// decided again after commitRetryDelay, and the FSM fence turns a
// duplicate into ErrStale).
func (l *leader) groupDone(ss *schedState, retry bool, now time.Time) {
	ss.flags &^= schedInflight
	id := ss.s.ID
	if ss.flags&schedRunsDirty != 0 {
		ss.flags &^= schedRunsDirty
		l.syncRunsOf(id, now)
	}
	s, ok := l.fsm.Get(id)
	if !ok {
		l.timers.remove(ss)
		delete(l.scheds, id)
		return
	}
	l.setSchedule(ss, s)
	if retry && ss.index >= 0 && ss.due <= nanos(now) {
		ss.due = nanos(now.Add(commitRetryDelay))
		l.timers.set(ss)
	}
}
