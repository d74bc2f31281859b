package dispatch

import (
	"container/heap"
	"errors"
	"hash/fnv"
	"time"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

// commitRetryDelay spaces retries of fire decisions whose commit failed.
const commitRetryDelay = 200 * time.Millisecond

// schedState is the leader's timer state for one schedule.
type schedState struct {
	s       *fsm.Schedule // the version the timer was computed from
	trig    trigger.Trigger
	nominal time.Time // next occurrence to decide; zero = none
	due     time.Time // nominal + jitter
	index   int       // position in the heap, -1 when absent
}

// timerHeap orders schedules by due time (container/heap).
type timerHeap []*schedState

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].s.ID < h[j].s.ID
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *timerHeap) Push(x any)   { s := x.(*schedState); s.index = len(*h); *h = append(*h, s) }
func (h *timerHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	s.index = -1
	return s
}
func (l *leader) unschedule(ss *schedState) {
	if ss.index >= 0 {
		heap.Remove(&l.heap, ss.index)
	}
}

// reschedule puts ss in the heap at its due time, or removes it.
func (l *leader) reschedule(ss *schedState) {
	if ss.nominal.IsZero() {
		l.unschedule(ss)
		return
	}
	if ss.index >= 0 {
		heap.Fix(&l.heap, ss.index)
		return
	}
	heap.Push(&l.heap, ss)
}

// resyncSchedules aligns the timers with the FSM: new, changed, paused,
// resumed and deleted schedules. A changed schedule restarts strictly after
// max(high-water mark, its last change, start_at−1ns): occurrences before a
// pause/resume or update are not caught up.
func (l *leader) resyncSchedules(now time.Time) {
	seen := map[string]bool{}
	for _, s := range l.d.cfg.Cluster.FSM().Schedules() {
		seen[s.ID] = true
		ss := l.scheds[s.ID]
		if ss != nil && ss.s.Version == s.Version {
			ss.s = s // same version: keep the timer, refresh HWM/FiredRuns
			continue
		}
		if ss == nil {
			ss = &schedState{index: -1}
			l.scheds[s.ID] = ss
		}
		ss.s = s
		trig, err := trigger.Compile(s.Trigger, s.Anchor())
		if err != nil {
			l.d.log.Error("schedule trigger does not compile; not scheduling", "schedule", s.ID, "err", err)
			ss.nominal = time.Time{}
			l.reschedule(ss)
			continue
		}
		ss.trig = trig
		l.setNext(ss, floorOf(s))
	}
	for id, ss := range l.scheds {
		if !seen[id] {
			l.unschedule(ss)
			delete(l.scheds, id)
		}
	}
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

// setNext sets ss's next occurrence strictly after t (respecting pause,
// end_at and max_runs) and its place in the heap.
func (l *leader) setNext(ss *schedState, t time.Time) {
	l.setNextRaw(ss, t)
	if s := ss.s; s.MaxRuns > 0 && s.FiredRuns >= s.MaxRuns {
		ss.nominal, ss.due = time.Time{}, time.Time{}
	}
	l.reschedule(ss)
}

// jitter is the deterministic offset of an occurrence: hash(schedule,
// nominal) mod min(policy.jitter, next−nominal).
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
	h := fnv.New64a()
	_, _ = h.Write([]byte(s.ID))
	_, _ = h.Write([]byte(nominal.UTC().Format(time.RFC3339Nano)))
	return time.Duration(h.Sum64() % uint64(span))
}

// fireDue commits one decision for every occurrence due by now, for all
// due schedules in as few Propose calls as possible, then dispatches.
func (l *leader) fireDue(now time.Time) error {
	var ps []pending
	var touched []*schedState
	for len(l.heap) > 0 && !l.heap[0].due.After(now) {
		ss := heap.Pop(&l.heap).(*schedState)
		touched = append(touched, ss)
		ps = append(ps, l.decide(ss, now)...)
	}
	if len(ps) == 0 {
		for _, ss := range touched {
			l.reschedule(ss)
		}
		return nil
	}
	err := l.commit(ps)
	for _, ss := range touched {
		if err != nil {
			// Unknown outcome: retry the same occurrences; a committed
			// decision comes back as ErrStale/ErrExists and is adopted.
			l.setNextRaw(ss, floorOf(ss.s))
			if !ss.nominal.IsZero() && !ss.due.After(now) {
				ss.due = now.Add(commitRetryDelay)
			}
			l.reschedule(ss)
			continue
		}
		l.reschedule(ss)
	}
	if fatal(err) {
		return err
	}
	if err != nil {
		l.d.log.Warn("fire decision not committed; retrying", "err", err)
	}
	return nil
}

// decide builds the decisions for ss's occurrences due by now and advances
// ss past them.
func (l *leader) decide(ss *schedState, now time.Time) []pending {
	s := ss.s
	var slots []time.Time
	dropped := 0
	fired := s.FiredRuns
	for n := ss.nominal; !n.IsZero() && !ss.due.After(now); {
		if s.MaxRuns > 0 && fired >= s.MaxRuns {
			ss.nominal, ss.due = time.Time{}, time.Time{}
			break
		}
		if now.Sub(n) <= time.Duration(s.Policy.CatchupWindow) {
			fired++
		}
		slots = append(slots, n)
		if len(slots) > l.d.cfg.CatchupCap {
			slots = slots[1:]
			dropped++
		}
		l.setNextRaw(ss, n) // ss is popped: no heap update
		n = ss.nominal
	}
	if dropped > 0 {
		l.d.m.dropped.Add(float64(dropped))
		l.d.m.missed.Add(float64(dropped))
		l.d.log.Warn("catch-up cap reached; older occurrences only advance the high-water mark", "schedule", s.ID, "dropped", dropped)
	}
	active := len(l.d.cfg.Cluster.FSM().ActiveRunsOf(s.ID))
	var ps []pending
	for _, n := range slots {
		ps = append(ps, l.decision(ss, n, now, active)...)
	}
	return ps
}

func (l *leader) setNextRaw(ss *schedState, t time.Time) {
	ss.nominal, ss.due = time.Time{}, time.Time{}
	s := ss.s
	if s.Paused || ss.trig == nil {
		return
	}
	if n, ok := ss.trig.Next(t); ok && (s.EndAt == nil || !n.After(*s.EndAt)) {
		ss.nominal = n
		ss.due = n.Add(jitter(s, ss.trig, n))
	}
}

// decision is the event(s) for one occurrence n of ss.
func (l *leader) decision(ss *schedState, n, now time.Time, active int) []pending {
	s := ss.s
	due := n.Add(jitter(s, ss.trig, n))
	run := &fsm.Run{ID: fsm.RunID(s.ID, n), ScheduleID: s.ID, NominalAt: n, DueAt: due, Trigger: fsm.TriggerScheduled}
	if due.Before(l.gainedAt) {
		run.Trigger = fsm.TriggerCatchup
	}
	if now.Sub(n) > time.Duration(s.Policy.CatchupWindow) {
		return []pending{{ev: fsm.Event{Type: fsm.RunMissed, Run: run, Error: "outside catchup window"}, then: l.counted("missed", nil)}}
	}
	var ps []pending
	buffered := false
	if active > 0 && run.Trigger == fsm.TriggerScheduled {
		switch s.Policy.Overlap {
		case fsm.OverlapAllow:
		case fsm.OverlapBufferOne:
			if l.hasBuffered(s.ID) {
				return []pending{{ev: fsm.Event{Type: fsm.RunSkipped, Run: run, Error: "overlap"}, then: l.counted("skipped", nil)}}
			}
			buffered = true
		case fsm.OverlapCancelOther:
			ps = append(ps, l.cancelActive(s.ID)...)
		default:
			return []pending{{ev: fsm.Event{Type: fsm.RunSkipped, Run: run, Error: "overlap"}, then: l.counted("skipped", nil)}}
		}
	}
	outcome := "fired"
	if run.Trigger == fsm.TriggerCatchup {
		outcome = "catchup"
	}
	return append(ps, pending{ev: fsm.Event{Type: fsm.RunFired, Run: run}, then: l.counted(outcome, func(r *fsm.Run) {
		rs := l.track(r)
		rs.buffered = buffered
	})})
}

// counted returns a callback that counts a committed decision and runs f
// on the committed run; an already-decided occurrence is adopted if active.
func (l *leader) counted(outcome string, f func(*fsm.Run)) func(fsm.Result) {
	return func(res fsm.Result) {
		if res.Err != nil {
			if !errors.Is(res.Err, fsm.ErrStale) && !errors.Is(res.Err, fsm.ErrExists) {
				l.d.log.Error("fire decision rejected", "err", res.Err)
			}
			return // someone already decided; adoptActiveRuns picks up an active run
		}
		l.d.m.fires.WithLabelValues(outcome).Inc()
		if outcome == "missed" {
			l.d.m.missed.Inc()
		}
		if f != nil {
			f(res.Run)
		}
	}
}
