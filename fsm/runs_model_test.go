package fsm_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

// runModel is the run semantics of DESIGN.md written the obvious way (a
// full scan for retention, a sort per query), against which the FSM's
// indexes and its amortised retention are checked.
type runModel struct {
	policy  map[string]fsm.Policy
	hwm     map[string]time.Time
	runs    map[string]fsm.Run
	bySched map[string][]string
}

func newRunModel() *runModel {
	return &runModel{policy: map[string]fsm.Policy{}, hwm: map[string]time.Time{}, runs: map[string]fsm.Run{}, bySched: map[string][]string{}}
}

func modelLess(a, b fsm.Run) bool {
	if !a.NominalAt.Equal(b.NominalAt) {
		return a.NominalAt.Before(b.NominalAt)
	}
	return a.ID < b.ID
}

func (m *runModel) apply(ev fsm.Event) {
	switch ev.Type {
	case fsm.ScheduleCreated:
		if _, ok := m.policy[ev.Schedule.ID]; !ok {
			m.policy[ev.Schedule.ID] = ev.Schedule.Policy
		}
	case fsm.ScheduleUpdated:
		if _, ok := m.policy[ev.Schedule.ID]; ok {
			m.policy[ev.Schedule.ID] = ev.Schedule.Policy
		}
	case fsm.ScheduleDeleted:
		if _, ok := m.policy[ev.ID]; ok {
			for _, id := range m.bySched[ev.ID] {
				delete(m.runs, id)
			}
			delete(m.bySched, ev.ID)
			delete(m.policy, ev.ID)
			delete(m.hwm, ev.ID)
		}
	case fsm.RunFired, fsm.RunSkipped, fsm.RunMissed:
		in := *ev.Run
		if _, ok := m.policy[in.ScheduleID]; !ok {
			return
		}
		if _, dup := m.runs[in.ID]; dup {
			return
		}
		auto := in.Trigger != fsm.TriggerManual
		if h, ok := m.hwm[in.ScheduleID]; auto && ok && !in.NominalAt.After(h) {
			return
		}
		in.Status = map[fsm.EventType]fsm.RunStatus{fsm.RunFired: fsm.StatusFired, fsm.RunSkipped: fsm.StatusSkipped, fsm.RunMissed: fsm.StatusMissed}[ev.Type]
		in.Attempt = 1
		if ev.Type != fsm.RunFired {
			at := ev.At
			in.FinishedAt = &at
		}
		if auto {
			m.hwm[in.ScheduleID] = in.NominalAt
		}
		m.runs[in.ID] = in
		ids := append(m.bySched[in.ScheduleID], in.ID)
		slices.SortFunc(ids, func(a, b string) int {
			if modelLess(m.runs[a], m.runs[b]) {
				return -1
			}
			return 1
		})
		m.bySched[in.ScheduleID] = ids
		m.prune(in.ScheduleID, ev.At)
	default:
		r, ok := m.runs[ev.RunID]
		if !ok || r.Status.Terminal() || ev.Attempt != r.Attempt {
			return
		}
		at := ev.At
		switch ev.Type {
		case fsm.RunAccepted:
			r.Status = fsm.StatusRunning
		case fsm.RunRetried:
			r.Status, r.Attempt = fsm.StatusFired, r.Attempt+1
		default:
			r.Status = map[fsm.EventType]fsm.RunStatus{fsm.RunSucceeded: fsm.StatusSucceeded, fsm.RunFailed: fsm.StatusFailed,
				fsm.RunLost: fsm.StatusLost, fsm.RunCancelled: fsm.StatusCancelled}[ev.Type]
			r.FinishedAt = &at
		}
		m.runs[r.ID] = r
		m.prune(r.ScheduleID, ev.At)
	}
}

func (m *runModel) prune(sid string, now time.Time) {
	p := m.policy[sid]
	limit, maxAge := cmpOr(p.HistoryLimit, fsm.RunHistoryLimit), time.Duration(cmpOr(p.HistoryMaxAge, fsm.Duration(fsm.RunHistoryMaxAge)))
	finished := 0
	for _, id := range m.bySched[sid] {
		if m.runs[id].Status.Terminal() {
			finished++
		}
	}
	var kept []string
	for _, id := range m.bySched[sid] {
		r := m.runs[id]
		if r.Status.Terminal() && (finished > limit || (r.FinishedAt != nil && now.Sub(*r.FinishedAt) > maxAge)) {
			finished--
			delete(m.runs, id)
			continue
		}
		kept = append(kept, id)
	}
	m.bySched[sid] = kept
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (m *runModel) list(filter fsm.RunFilter) []string {
	var all []fsm.Run
	for _, r := range m.runs {
		if (filter.ScheduleID == "" || r.ScheduleID == filter.ScheduleID) && (filter.Status == "" || r.Status == filter.Status) {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, func(a, b fsm.Run) int {
		if modelLess(a, b) {
			return -1
		}
		return 1
	})
	var out []string
	for _, r := range all {
		out = append(out, r.ID+"/"+string(r.Status))
	}
	return out
}

func pages(f *fsm.FSM, filter fsm.RunFilter, limit int) []string {
	var out []string
	cursor := ""
	for {
		page, next := f.Runs(filter, cursor, limit)
		for _, r := range page {
			out = append(out, r.ID+"/"+string(r.Status))
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

func runIDs(runs []*fsm.Run) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.ID+"/"+string(r.Status))
	}
	return out
}

func activeOf(list []string) []string {
	var out []string
	for _, s := range list {
		if strings.HasSuffix(s, "/fired") || strings.HasSuffix(s, "/running") {
			out = append(out, s)
		}
	}
	return out
}

// TestFSM_Runs_Model drives random run lifecycles (time mostly forward,
// sometimes back or far ahead; small history limits and ages) through the
// FSM and the model, and compares every query after every entry.
func TestFSM_Runs_Model(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 1))
			f, m := fsm.New(), newRunModel()
			now := t0
			ids := []string{"a", "b", "c"}
			var runs []string
			nominal := map[string]time.Time{}
			for step := range 400 {
				switch r.IntN(20) {
				case 0:
					now = now.Add(-time.Duration(r.IntN(600)) * time.Second)
				case 1:
					now = now.Add(time.Duration(r.IntN(5)) * time.Hour)
				default:
					now = now.Add(time.Duration(r.IntN(300)) * time.Second)
				}
				var batch []fsm.Event
				for range 1 + r.IntN(3) {
					id := ids[r.IntN(len(ids))]
					var ev fsm.Event
					switch x := r.IntN(100); {
					case x < 6:
						s := &fsm.Schedule{ID: id, Handler: "h", Method: "m", Trigger: trigger.Spec{Every: "1m"}, Policy: fsm.DefaultPolicy}
						s.Policy.HistoryLimit = r.IntN(5)
						s.Policy.HistoryMaxAge = fsm.Duration(time.Duration(r.IntN(3)) * time.Hour)
						ev = fsm.Event{Type: []fsm.EventType{fsm.ScheduleCreated, fsm.ScheduleUpdated}[r.IntN(2)], At: now, Schedule: s}
					case x < 7:
						ev = fsm.Event{Type: fsm.ScheduleDeleted, At: now, ID: id}
					case x < 40:
						n := nominal[id].Add(time.Duration(r.IntN(3)) * time.Minute)
						if n.IsZero() || r.IntN(5) == 0 {
							n = now
						}
						nominal[id] = n
						trig := []string{fsm.TriggerScheduled, fsm.TriggerCatchup, fsm.TriggerManual}[r.IntN(3)]
						rid := fsm.RunID(id, n)
						if trig == fsm.TriggerManual {
							rid = fsm.ManualRunID(id, fmt.Sprint(r.IntN(50)))
						}
						runs = append(runs, rid)
						typ := []fsm.EventType{fsm.RunFired, fsm.RunFired, fsm.RunFired, fsm.RunSkipped, fsm.RunMissed}[r.IntN(5)]
						ev = fsm.Event{Type: typ, At: now, Run: &fsm.Run{ID: rid, ScheduleID: id, NominalAt: n, Trigger: trig}}
					case len(runs) > 0:
						rid := runs[len(runs)-1-r.IntN(min(len(runs), 10))]
						typ := []fsm.EventType{fsm.RunAccepted, fsm.RunSucceeded, fsm.RunFailed, fsm.RunRetried, fsm.RunLost, fsm.RunCancelled}[r.IntN(6)]
						ev = fsm.Event{Type: typ, At: now, RunID: rid, Attempt: 1 + r.IntN(4)/3, Instance: "i"}
					default:
						ev = fsm.Event{Type: fsm.Noop, At: now}
					}
					batch = append(batch, ev)
				}
				data, err := fsm.Encode(batch)
				require.NoError(t, err)
				f.Apply(uint64(step+1), data)
				for _, ev := range batch {
					m.apply(ev)
				}
				if step%50 == 49 { // continue from a restored copy (both formats)
					snap := snapshotBytes(t, f)
					if step%100 == 49 {
						snap = jsonSnapshot(t, f)
					}
					g := fsm.New()
					require.NoError(t, g.Restore(bytes.NewReader(snap)))
					require.Equal(t, f.Digest(), g.Digest())
					f = g
				}
				limit := 1 + r.IntN(4)
				require.Equal(t, m.list(fsm.RunFilter{}), pages(f, fsm.RunFilter{}, limit), "step %d", step)
				for _, st := range []fsm.RunStatus{fsm.StatusFired, fsm.StatusSucceeded} {
					require.Equal(t, m.list(fsm.RunFilter{Status: st}), pages(f, fsm.RunFilter{Status: st}, limit))
				}
				for _, id := range ids {
					require.Equal(t, m.list(fsm.RunFilter{ScheduleID: id}), pages(f, fsm.RunFilter{ScheduleID: id}, limit))
					require.Equal(t, activeOf(m.list(fsm.RunFilter{ScheduleID: id})), runIDs(f.ActiveRunsOf(id)))
				}
				require.Equal(t, activeOf(m.list(fsm.RunFilter{})), runIDs(f.ActiveRuns()))
			}
		})
	}
}
