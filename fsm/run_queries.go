package fsm

import "sort"

// Run returns the run with the given ID. The value must not be modified.
func (f *FSM) Run(id string) (*Run, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.runs[id]
	if !ok {
		return nil, false
	}
	return r.r, true
}

// Runs returns up to limit runs matching filter, ordered by nominal time
// then ID, starting after the run whose ID is cursor, and the cursor of the
// next page ("" when there is none).
func (f *FSM) Runs(filter RunFilter, cursor string, limit int) ([]*Run, string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var all []*Run
	if filter.ScheduleID != "" {
		for _, id := range f.runsBySchedule[filter.ScheduleID] {
			all = append(all, f.runs[id].r)
		}
	} else {
		for _, e := range f.runs {
			all = append(all, e.r)
		}
	}
	matched := all[:0]
	for _, r := range all {
		if filter.Status == "" || r.Status == filter.Status {
			matched = append(matched, r)
		}
	}
	sort.Slice(matched, func(i, j int) bool { return runLess(matched[i], matched[j]) })
	start := 0
	if c, ok := f.runs[cursor]; ok {
		start = sort.Search(len(matched), func(i int) bool { return runLess(c.r, matched[i]) })
	}
	end := min(start+limit, len(matched))
	next := ""
	if end < len(matched) && end > start {
		next = matched[end-1].ID
	}
	return matched[start:end], next
}

func runLess(a, b *Run) bool {
	if !a.NominalAt.Equal(b.NominalAt) {
		return a.NominalAt.Before(b.NominalAt)
	}
	return a.ID < b.ID
}

// ActiveRuns returns every run that is fired or running, for the leader to
// resume after it wins an election.
func (f *FSM) ActiveRuns() []*Run {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []*Run
	for _, e := range f.runs {
		if !e.r.Status.Terminal() {
			out = append(out, e.r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return runLess(out[i], out[j]) })
	return out
}

// ActiveRunsOf returns the fired or running runs of one schedule (overlap
// policies).
func (f *FSM) ActiveRunsOf(scheduleID string) []*Run {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []*Run
	for _, id := range f.runsBySchedule[scheduleID] {
		if r := f.runs[id].r; !r.Status.Terminal() {
			out = append(out, r)
		}
	}
	return out
}

// Schedules returns every schedule, unordered, for the leader to rebuild
// its timers. Values must not be modified.
func (f *FSM) Schedules() []*Schedule {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*Schedule, 0, len(f.schedules))
	for _, e := range f.schedules {
		out = append(out, e.s)
	}
	return out
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
