package fsm

import (
	"slices"
	"sort"
)

// Run returns the run with the given ID. The value must not be modified.
func (f *FSM) Run(id string) (*Run, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.runs.byID[id]
	return r, ok
}

// Runs returns up to limit runs matching filter, ordered by nominal time
// then ID, starting after the run whose ID is cursor (from the start when
// no run has that ID), and the cursor of the next page ("" when there is
// none).
//
// Cost: with a schedule ID, O(log h + scanned) over that schedule's runs;
// with only an active status (fired, running), O(a log a) over the active
// runs; otherwise O(log n + scanned) over the index of all runs, where
// scanned counts the runs skipped by a status filter — a page of a rare
// terminal status can scan far.
func (f *FSM) Runs(filter RunFilter, cursor string, limit int) ([]*Run, string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	x := &f.runs
	after, hasCursor := x.byID[cursor]
	limit = max(limit, 0)
	var out []*Run
	more := false
	take := func(r *Run) bool {
		if filter.Status != "" && r.Status != filter.Status {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, r)
		return true
	}
	switch {
	case filter.ScheduleID != "":
		if l := x.bySched[filter.ScheduleID]; l != nil {
			i := 0
			if hasCursor {
				i = sort.Search(len(l.runs), func(i int) bool { return runCmp(after, l.runs[i]) < 0 })
			}
			for ; i < len(l.runs) && take(l.runs[i]); i++ {
			}
		}
	case filter.Status != "" && !filter.Status.Terminal():
		for _, r := range sortedActive(x.active) {
			if (!hasCursor || runCmp(after, r) < 0) && !take(r) {
				break
			}
		}
	default:
		x.ordered.Ascend(after, hasCursor, false, take)
	}
	next := ""
	if more && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return out, next
}

func sortedActive(active map[string]*Run) []*Run {
	out := make([]*Run, 0, len(active))
	for _, r := range active {
		out = append(out, r)
	}
	slices.SortFunc(out, runCmp)
	return out
}

// ActiveRuns returns every run that is fired or running, for the leader to
// resume after it wins an election. O(a log a) in the active runs, however
// much finished history is retained.
func (f *FSM) ActiveRuns() []*Run {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if len(f.runs.active) == 0 {
		return nil
	}
	return sortedActive(f.runs.active)
}

// ActiveRunsOf returns the fired or running runs of one schedule (overlap
// policies), in (nominal, ID) order. O(1) when it has none.
func (f *FSM) ActiveRunsOf(scheduleID string) []*Run {
	f.mu.RLock()
	defer f.mu.RUnlock()
	l := f.runs.bySched[scheduleID]
	if l == nil || l.active == 0 {
		return nil
	}
	out := make([]*Run, 0, l.active)
	for _, r := range l.runs {
		if !r.Status.Terminal() {
			out = append(out, r)
		}
	}
	return out
}

// Schedules returns every schedule in ID order, for the leader to rebuild
// its timers. Values must not be modified.
func (f *FSM) Schedules() []*Schedule {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.schedules.items(make([]*Schedule, 0, f.schedules.len()))
}

// Handlers returns the registered handler instances sorted by name, instance.
func (f *FSM) Handlers() []HandlerInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]HandlerInfo, 0, len(f.handlers))
	for _, h := range f.handlers {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Instance < out[j].Instance
	})
	return out
}
