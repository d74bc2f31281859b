package jepsen

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Fire checker bounds.
const (
	fireEarlyTolerance   = 50 * time.Millisecond // ε_clock: one host, one clock
	fireDeletedSlack     = time.Second
	fireOnTimeBound      = 2 * time.Second
	handlerFaultSettle   = 5 * time.Second // heartbeat liveness (3 s) + accept timeout (2 s)
	handlerLostDetect    = 3500 * time.Millisecond
	failoverExclusion    = 3 * time.Second
	handlerAcceptTimeout = 2 * time.Second
	fireTableMaxSlots    = 400
)

// FireCheckers returns the checkers of the timed-schedule workload.
func FireCheckers() []Checker {
	return []Checker{FireUnique{}, ExecAtMostOnce{}, EverySlot{}, NoEarlyNoDeleted{}, HealthyHandlerOnTime{}}
}

func noFire(name string) Result { return pass(name, "no fire workload in this history") }

func isRecordedNonExec(status string) bool {
	return status == "missed" || status == "skipped" || status == "lost" || status == "failed"
}

// FireUnique: at most one run per (schedule, nominal) in every node's
// listing; one nominal per run ID across every source; run IDs are
// <schedule>@<nominal RFC3339Nano>; all members retain the same runs.
type FireUnique struct{}

func (FireUnique) Name() string { return "fire-unique" }

func (c FireUnique) Check(h *History) Result {
	f := h.Fire
	if f == nil {
		return noFire(c.Name())
	}
	var problems []string
	nominal := map[string]time.Time{}
	note := func(src, id, sched string, t time.Time) {
		if want := sched + "@" + t.UTC().Format(time.RFC3339Nano); id != want {
			problems = append(problems, fmt.Sprintf("%s: run id %q does not match its nominal time %s", src, id, t.UTC().Format(time.RFC3339Nano)))
		}
		if prev, ok := nominal[id]; ok && !prev.Equal(t) {
			problems = append(problems, fmt.Sprintf("%s: run %s has nominal %s and %s", src, id, prev.UTC().Format(time.RFC3339Nano), t.UTC().Format(time.RFC3339Nano)))
		}
		nominal[id] = t
	}
	lists := map[string][]RunRecord{"leader": f.LeaderRuns}
	for n, rs := range f.NodeRuns {
		lists[n] = rs
	}
	runs := 0
	for _, src := range slices.Sorted(maps.Keys(lists)) {
		slot := map[string]string{}
		for _, r := range lists[src] {
			runs++
			note(src, r.ID, r.ScheduleID, r.NominalAt)
			k := r.ScheduleID + "|" + r.NominalAt.UTC().Format(time.RFC3339Nano)
			if prev, ok := slot[k]; ok && prev != r.ID {
				problems = append(problems, fmt.Sprintf("%s: two runs %s and %s for slot %s", src, prev, r.ID, k))
			}
			slot[k] = r.ID
		}
	}
	for _, id := range slices.Sorted(maps.Keys(f.Polled)) {
		r := f.Polled[id]
		note("polled", r.ID, r.ScheduleID, r.NominalAt)
	}
	for _, l := range f.Journal {
		note(fmt.Sprintf("journal %s:%d", l.Handler, l.Line), l.RunID, l.ScheduleID, l.NominalAt)
	}
	if h.Final.QuiescedNS != 0 {
		want := runSet(f.LeaderRuns)
		for _, n := range slices.Sorted(maps.Keys(f.NodeRuns)) {
			if got := runSet(f.NodeRuns[n]); !maps.Equal(got, want) {
				problems = append(problems, fmt.Sprintf("node %s retains different runs than the leader: %s", n, diffMaps(want, got)))
			}
		}
	}
	if len(f.NodeRuns) == 0 || len(f.LeaderRuns) == 0 {
		problems = append(problems, "no final run listing was taken")
	}
	problems = append(problems, f.Errors...)
	if len(problems) > 0 {
		return fail(c.Name(), limitDetails(problems, 40), "%d problems over %d listed runs", len(problems), runs)
	}
	return pass(c.Name(), "%d runs listed by %d sources: one run per slot, one nominal per id, members agree", runs, len(lists))
}

func runSet(rs []RunRecord) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		m[r.ID] = r.NominalAt.UTC().Format(time.RFC3339Nano) + " " + r.Status
	}
	return m
}

// handlerFault is one fault window of a handler process (monotonic ns).
type handlerFault struct {
	nemesis, handler string
	startNS, endNS   int64
}

// handlerFaults pairs each handler nemesis' start with its end (the fault
// window's end, or the resume for a pause).
func handlerFaults(h *History) []handlerFault {
	var out []handlerFault
	for _, ev := range h.Nemesis {
		if ev.Phase != "start" || !slices.Contains(HandlerNemeses(), ev.Nemesis) || len(ev.Targets) == 0 || ev.Error != "" {
			continue
		}
		hf := handlerFault{nemesis: ev.Nemesis, handler: ev.Targets[0], startNS: ev.StartNS, endNS: h.EndNS}
		for _, w := range h.Windows {
			if w.Kind == WindowFault && w.Nemesis == ev.Nemesis && w.StartNS <= ev.StartNS && ev.StartNS <= w.EndNS {
				hf.endNS = w.EndNS
			}
		}
		for _, e2 := range h.Nemesis {
			if e2.Nemesis == ev.Nemesis && e2.Phase == "resume" && e2.StartNS >= ev.StartNS && len(e2.Targets) > 0 && e2.Targets[0] == hf.handler {
				hf.endNS = min(hf.endNS, e2.EndNS)
				break
			}
		}
		out = append(out, hf)
	}
	return out
}

// ExecAtMostOnce: per run ID, the journal copies. Two copies by the same
// handler instance always FAIL (the per-process dedupe broke). Copies by
// different processes are reported, and FAIL unless a fault of a
// handler process that executed one of the copies (kill, pause, cut)
// overlaps the run's lifetime [nominal, last copy] widened by
// handlerFaultSettle after the fault.
type ExecAtMostOnce struct{}

func (ExecAtMostOnce) Name() string { return "exec-at-most-once" }

func (c ExecAtMostOnce) Check(h *History) Result {
	f := h.Fire
	if f == nil {
		return noFire(c.Name())
	}
	faults := handlerFaults(h)
	byRun := map[string][]JournalLine{}
	for _, l := range f.Journal {
		byRun[l.RunID] = append(byRun[l.RunID], l)
	}
	var problems, notes []string
	dups := 0
	for _, id := range slices.Sorted(maps.Keys(byRun)) {
		ls := byRun[id]
		if len(ls) < 2 {
			continue
		}
		dups++
		slices.SortFunc(ls, func(a, b JournalLine) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
		desc := describeCopies(ls)
		instances := map[string]bool{}
		sameInstance := false
		for _, l := range ls {
			sameInstance = sameInstance || instances[l.Instance]
			instances[l.Instance] = true
		}
		if sameInstance {
			problems = append(problems, "run "+id+" executed twice by ONE handler instance: "+desc)
			continue
		}
		lo, hi := f.mono(ls[0].NominalAt), f.mono(ls[len(ls)-1].ReceivedAt)
		explained := ""
		for _, hf := range faults {
			if slices.ContainsFunc(ls, func(l JournalLine) bool { return l.Handler == hf.handler }) && hf.startNS <= hi && hf.endNS+int64(handlerFaultSettle) >= lo {
				explained = fmt.Sprintf("%s of %s at %s", hf.nemesis, hf.handler, relTime(hf.startNS, h.StartNS))
				break
			}
		}
		if explained == "" {
			problems = append(problems, "run "+id+" executed by two processes with no fault of either executor: "+desc)
		} else {
			notes = append(notes, "run "+id+" re-executed after "+explained+": "+desc)
		}
	}
	if len(problems) > 0 {
		return fail(c.Name(), limitDetails(append(problems, notes...), 40), "%d unexplained duplicate executions (%d duplicated runs, %d executions)", len(problems), dups, len(f.Journal))
	}
	r := pass(c.Name(), "%d executions of %d runs; %d duplicated, all after a fault of the executing handler", len(f.Journal), len(byRun), dups)
	r.Details = limitDetails(notes, 20)
	return r
}

func describeCopies(ls []JournalLine) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, fmt.Sprintf("%s:%d instance %s attempt %d received %s", l.Handler, l.Line, l.Instance, l.Attempt, l.ReceivedAt.UTC().Format("15:04:05.000")))
	}
	return strings.Join(parts, "; ")
}

// EverySlot: every slot t = anchor + k·every of every timed schedule with
// create_ack < t ≤ fire_end − grace (and, for the deleted schedule,
// t ≤ delete_invoke − 1 s) has a journal execution received at or after
// t − 50 ms, or a run record (polled or final) with status missed, skipped,
// lost or failed. A slot with neither is silently absent: FAIL.
type EverySlot struct{}

func (EverySlot) Name() string { return "every-slot" }

func (c EverySlot) Check(h *History) Result {
	f := h.Fire
	if f == nil {
		return noFire(c.Name())
	}
	if f.FireEndNS == 0 {
		return fail(c.Name(), nil, "the run never reached the end of firing")
	}
	exec := map[string][]JournalLine{}
	for _, l := range f.Journal {
		exec[l.RunID] = append(exec[l.RunID], l)
	}
	records := maps.Clone(f.Polled)
	for _, rs := range append(slices.Collect(maps.Values(f.NodeRuns)), f.LeaderRuns) {
		for _, r := range rs {
			records[r.ID] = r
		}
	}
	var problems, tables []string
	slots, executed, recorded, late := 0, 0, 0, 0
	var worst time.Duration
	end := f.wall(f.FireEndNS - f.GraceNS)
	for _, s := range f.Schedules {
		iv := s.Interval()
		if !s.Created || iv <= 0 {
			continue
		}
		last := end
		if s.DeleteInvokeNS != 0 {
			last = minTime(last, f.wall(s.DeleteInvokeNS).Add(-fireDeletedSlack))
		}
		first := f.wall(s.CreateAckNS)
		var table []string
		bad := 0
		for t := nextSlot(s.Anchor, iv, first); !t.After(last); t = t.Add(iv) {
			slots++
			id := s.ID + "@" + t.UTC().Format(time.RFC3339Nano)
			row := id
			ok := false
			for _, l := range exec[id] {
				if !l.ReceivedAt.Before(t.Add(-fireEarlyTolerance)) {
					ok = true
					lat := l.ReceivedAt.Sub(t)
					worst = max(worst, lat)
					if lat > fireOnTimeBound {
						late++
					}
					row += fmt.Sprintf(" exec %s:%d +%s", l.Handler, l.Line, lat.Round(time.Millisecond))
				}
			}
			r, has := records[id]
			if has {
				row += " run " + r.Status
			}
			switch {
			case ok:
				executed++
			case has && isRecordedNonExec(r.Status):
				recorded++
			default:
				bad++
				row += "  <-- SILENTLY ABSENT"
				problems = append(problems, fmt.Sprintf("slot %s: no execution and no missed/skipped/lost/failed record (run record: %v)", id, describeRecord(r, has)))
			}
			if len(table) < fireTableMaxSlots {
				table = append(table, row)
			}
		}
		if bad > 0 {
			tables = append(tables, fmt.Sprintf("schedule %s every %s created %s:", s.ID, s.Every, relTime(s.CreateAckNS, h.StartNS)))
			tables = append(tables, table...)
		}
	}
	if len(problems) > 0 {
		res := fail(c.Name(), limitDetails(problems, 40), "%d of %d slots silently absent", len(problems), slots)
		res.Artifacts = map[string][]byte{"fire-slots.txt": []byte(strings.Join(tables, "\n") + "\n")}
		return res
	}
	return pass(c.Name(), "%d slots: %d executed (%d later than %s, latest +%s), %d recorded missed/skipped/lost/failed",
		slots, executed, late, fireOnTimeBound, worst.Round(time.Millisecond), recorded)
}

func describeRecord(r RunRecord, has bool) string {
	if !has {
		return "none"
	}
	return fmt.Sprintf("%s attempt %d %s", r.Status, r.Attempt, r.Error)
}

// nextSlot returns the first anchor + k·iv strictly after t.
func nextSlot(anchor time.Time, iv time.Duration, t time.Time) time.Time {
	k := t.Sub(anchor) / iv
	s := anchor.Add(k * iv)
	for !s.After(t) {
		s = s.Add(iv)
	}
	return s
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// NoEarlyNoDeleted: no execution received before nominal − 50 ms; no
// execution of the deleted schedule with nominal > delete_ack + 1 s; no
// execution of a schedule the fire workload did not create.
type NoEarlyNoDeleted struct{}

func (NoEarlyNoDeleted) Name() string { return "no-early-no-deleted" }

func (c NoEarlyNoDeleted) Check(h *History) Result {
	f := h.Fire
	if f == nil {
		return noFire(c.Name())
	}
	sched := map[string]FireSchedule{}
	for _, s := range f.Schedules {
		sched[s.ID] = s
	}
	var problems []string
	for _, l := range f.Journal {
		where := fmt.Sprintf("%s:%d %s", l.Handler, l.Line, l.RunID)
		s, ok := sched[l.ScheduleID]
		switch {
		case !ok:
			problems = append(problems, where+": execution of a schedule the fire workload never created")
		case l.ReceivedAt.Before(l.NominalAt.Add(-fireEarlyTolerance)):
			problems = append(problems, fmt.Sprintf("%s: EARLY, received %s before its nominal time", where, l.NominalAt.Sub(l.ReceivedAt)))
		case s.DeleteAckNS != 0 && l.NominalAt.After(f.wall(s.DeleteAckNS).Add(fireDeletedSlack)):
			problems = append(problems, fmt.Sprintf("%s: executed although %s was deleted (ack %s, nominal %s later)", where, s.ID,
				relTime(s.DeleteAckNS, h.StartNS), l.NominalAt.Sub(f.wall(s.DeleteAckNS)).Round(time.Millisecond)))
		}
	}
	if len(f.JournalErrors) > 0 {
		problems = append(problems, f.JournalErrors...)
	}
	if len(problems) > 0 {
		return fail(c.Name(), limitDetails(problems, 40), "%d problems in %d executions", len(problems), len(f.Journal))
	}
	return pass(c.Name(), "%d executions: none early, none for the deleted schedule after its delete", len(f.Journal))
}

// HealthyHandlerOnTime: while one handler is SIGSTOPped, executions by the
// other handler of slots t in [pause, resume] are received within
// fireOnTimeBound of t, or within fireOnTimeBound + accept timeout for
// t < pause + handlerLostDetect (until then the leader may still pick the
// stopped handler and re-send after its accept timeout). Slots within failoverExclusion of a leader change or of a
// non-handler fault window are excluded.
type HealthyHandlerOnTime struct{}

func (HealthyHandlerOnTime) Name() string { return "healthy-handler-on-time" }

func (c HealthyHandlerOnTime) Check(h *History) Result {
	f := h.Fire
	if f == nil {
		return noFire(c.Name())
	}
	leaders, _ := LeaderTerms(h.Observations)
	disturbed := func(ns int64) bool {
		for _, l := range leaders {
			if abs64(l.AtNS-ns) <= int64(failoverExclusion) {
				return true
			}
		}
		for _, w := range h.Windows {
			if w.Kind == WindowFault && !slices.Contains(HandlerNemeses(), w.Nemesis) &&
				ns >= w.StartNS-int64(failoverExclusion) && ns <= w.EndNS+int64(failoverExclusion) {
				return true
			}
		}
		return false
	}
	var problems []string
	checked, pauses := 0, 0
	var worst time.Duration
	for _, hf := range handlerFaults(h) {
		if hf.nemesis != NemesisPauseHandler {
			continue
		}
		pauses++
		for _, l := range f.Journal {
			t := f.mono(l.NominalAt)
			if l.Handler == hf.handler || t < hf.startNS || t > hf.endNS || disturbed(t) {
				continue
			}
			checked++
			lat := l.ReceivedAt.Sub(l.NominalAt)
			worst = max(worst, lat)
			bound := fireOnTimeBound
			if t < hf.startNS+int64(handlerLostDetect) {
				bound += handlerAcceptTimeout
			}
			if lat > bound {
				problems = append(problems, fmt.Sprintf("%s:%d %s received %s after its nominal time while %s was stopped (from %s)",
					l.Handler, l.Line, l.RunID, lat.Round(time.Millisecond), hf.handler, relTime(hf.startNS, h.StartNS)))
			}
		}
	}
	if len(problems) > 0 {
		return fail(c.Name(), limitDetails(problems, 40), "%d of %d executions by the healthy handler late", len(problems), checked)
	}
	return pass(c.Name(), "%d handler pauses, %d executions by the healthy handler checked, latest +%s", pauses, checked, worst.Round(time.Millisecond))
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
