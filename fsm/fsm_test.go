package fsm_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func sched(id string) *fsm.Schedule {
	return &fsm.Schedule{
		ID: id, Handler: "reports", Method: "generate",
		Params:  json.RawMessage(`{"format":"pdf"}`),
		Trigger: trigger.Spec{Cron: "0 30 2 * * *", Timezone: "Europe/Berlin"},
		Policy:  fsm.DefaultPolicy,
	}
}

func run(scheduleID string, nominal time.Time, trigger string) *fsm.Run {
	return &fsm.Run{ID: fsm.RunID(scheduleID, nominal), ScheduleID: scheduleID, NominalAt: nominal, Trigger: trigger}
}

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// applyOne encodes ev as its own entry and applies it at index.
func applyOne(t *testing.T, f *fsm.FSM, index uint64, ev fsm.Event) fsm.Result {
	t.Helper()
	data, err := fsm.Encode([]fsm.Event{ev})
	require.NoError(t, err)
	res := f.Apply(index, data)
	require.Len(t, res, 1)
	return res[0]
}

// scenarios are replayed one event per entry; the golden file records every
// result and the final state, so any change to Apply semantics shows up as a
// reviewable diff.
var scenarios = map[string][]fsm.Event{
	"lifecycle": {
		{Type: fsm.ScheduleCreated, At: at(0), Schedule: sched("a")},
		{Type: fsm.ScheduleCreated, At: at(1), Schedule: sched("b")},
		{Type: fsm.ScheduleCreated, At: at(2), Schedule: sched("a")},
		{Type: fsm.SchedulePaused, At: at(3), ID: "a"},
		{Type: fsm.SchedulePaused, At: at(4), ID: "a"},
		{Type: fsm.ScheduleUpdated, At: at(5), Schedule: &fsm.Schedule{ID: "a", Handler: "h2", Method: "m2", Trigger: trigger.Spec{Every: "1m"}, Policy: fsm.DefaultPolicy}},
		{Type: fsm.ScheduleResumed, At: at(6), ID: "a", IfVersion: 3},
		{Type: fsm.ScheduleResumed, At: at(7), ID: "a", IfVersion: 4},
		{Type: fsm.ScheduleDeleted, At: at(8), ID: "b"},
		{Type: fsm.ScheduleDeleted, At: at(9), ID: "b"},
		{Type: fsm.ScheduleUpdated, At: at(10), Schedule: sched("zzz")},
	},
	"runs": {
		{Type: fsm.ScheduleCreated, At: at(0), Schedule: sched("a")},
		{Type: fsm.RunFired, At: at(1), Run: run("a", at(1), fsm.TriggerScheduled)},
		{Type: fsm.RunFired, At: at(1), Run: run("a", at(1), fsm.TriggerScheduled)},
		{Type: fsm.RunFired, At: at(2), Run: &fsm.Run{ID: "a@other-id", ScheduleID: "a", NominalAt: at(1), Trigger: fsm.TriggerScheduled}},
		{Type: fsm.RunAccepted, At: at(2), RunID: fsm.RunID("a", at(1)), Attempt: 1, Instance: "h1"},
		{Type: fsm.RunRetried, At: at(3), RunID: fsm.RunID("a", at(1)), Attempt: 1, Error: "handler lost"},
		{Type: fsm.RunAccepted, At: at(3), RunID: fsm.RunID("a", at(1)), Attempt: 1, Instance: "h1"},
		{Type: fsm.RunAccepted, At: at(3), RunID: fsm.RunID("a", at(1)), Attempt: 2, Instance: "h2"},
		{Type: fsm.RunSucceeded, At: at(4), RunID: fsm.RunID("a", at(1)), Attempt: 2, Result: json.RawMessage(`{"ok":1}`)},
		{Type: fsm.RunFailed, At: at(5), RunID: fsm.RunID("a", at(1)), Attempt: 2, Error: "late"},
		{Type: fsm.RunSkipped, At: at(6), Run: run("a", at(6), fsm.TriggerScheduled), Error: "overlap"},
		{Type: fsm.RunMissed, At: at(90), Run: run("a", at(7), fsm.TriggerCatchup), Error: "outside catchup window"},
		{Type: fsm.RunFired, At: at(91), Run: &fsm.Run{ID: fsm.ManualRunID("a", "req-1"), ScheduleID: "a", NominalAt: at(91), Trigger: fsm.TriggerManual}},
		{Type: fsm.RunFired, At: at(92), Run: run("nope", at(92), fsm.TriggerScheduled)},
		{Type: fsm.HandlerRegistered, At: at(93), Handler: &fsm.HandlerInfo{Name: "reports", Instance: "h1", Methods: []string{"generate"}, Capacity: 4}},
		{Type: fsm.HandlerExpired, At: at(94), Instance: "h1"},
		{Type: fsm.HandlerExpired, At: at(95), Instance: "h1"},
		{Type: fsm.ScheduleUpdated, At: at(96), Schedule: sched("a")},
	},
	"nodes": {
		{Type: fsm.NodeUpserted, At: at(0), Node: &fsm.NodeInfo{ID: "n1", HTTPAddr: "127.0.0.1:8888", RaftAddr: "127.0.0.1:4243", ZMQAddr: "tcp://127.0.0.1:4242"}},
		{Type: fsm.NodeUpserted, At: at(1), Node: &fsm.NodeInfo{ID: "n2", HTTPAddr: "127.0.0.2:8888", RaftAddr: "127.0.0.2:4243", ZMQAddr: "tcp://127.0.0.2:4242"}},
		{Type: fsm.NodeUpserted, At: at(2), Node: &fsm.NodeInfo{ID: "n1", HTTPAddr: "127.0.0.1:9999", RaftAddr: "127.0.0.1:4243", ZMQAddr: "tcp://127.0.0.1:4242"}},
		{Type: fsm.NodeRemoved, At: at(3), ID: "n2"},
		{Type: fsm.NodeRemoved, At: at(4), ID: "n2"},
		{Type: fsm.Noop, At: at(5)},
		{Type: "schedule.exploded", At: at(6)},
		{Type: fsm.ScheduleCreated, At: at(7)},
	},
}

func TestFSM_Apply_Golden(t *testing.T) {
	for name, events := range scenarios {
		t.Run(name, func(t *testing.T) {
			f := fsm.New()
			var out strings.Builder
			for i, ev := range events {
				r := applyOne(t, f, uint64(i+1), ev)
				fmt.Fprintf(&out, "%d %s %s -> %s\n", r.Index, ev.Type, ev.ID+idOf(ev), describe(r))
			}
			fmt.Fprintf(&out, "applied=%d count=%d digest=%s\n", f.AppliedIndex(), f.Count(), f.Digest())
			var snap bytes.Buffer
			_, err := f.Snapshot().WriteJSONTo(&snap)
			require.NoError(t, err)
			out.WriteString(snap.String())
			checkGolden(t, filepath.Join("testdata", name+".golden"), out.String())
		})
	}
}

func idOf(ev fsm.Event) string {
	switch {
	case ev.Schedule != nil:
		return ev.Schedule.ID
	case ev.Node != nil:
		return ev.Node.ID
	case ev.Run != nil:
		return ev.Run.ID
	case ev.Handler != nil:
		return ev.Handler.Instance
	}
	if ev.RunID != "" {
		return fmt.Sprintf("%s#%d", ev.RunID, ev.Attempt)
	}
	if ev.Instance != "" {
		return ev.Instance
	}
	return ""
}

func describe(r fsm.Result) string {
	if r.Err != nil {
		return "error: " + r.Err.Error()
	}
	if r.Run != nil {
		return fmt.Sprintf("ok %s attempt=%d", r.Run.Status, r.Run.Attempt)
	}
	if r.Schedule != nil {
		return fmt.Sprintf("ok version=%d paused=%v", r.Schedule.Version, r.Schedule.Paused)
	}
	return "ok"
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./fsm -update to create it")
	require.Equal(t, string(want), got)
}

func TestFSM_Apply(t *testing.T) {
	t.Run("ErrorsAreSentinels", func(t *testing.T) {
		f := fsm.New()
		require.NoError(t, applyOne(t, f, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("a")}).Err)
		require.ErrorIs(t, applyOne(t, f, 2, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("a")}).Err, fsm.ErrExists)
		require.ErrorIs(t, applyOne(t, f, 3, fsm.Event{Type: fsm.ScheduleDeleted, At: t0, ID: "nope"}).Err, fsm.ErrNotFound)
		require.ErrorIs(t, applyOne(t, f, 4, fsm.Event{Type: fsm.SchedulePaused, At: t0, ID: "a", IfVersion: 9}).Err, fsm.ErrVersionMismatch)
		require.ErrorIs(t, applyOne(t, f, 5, fsm.Event{Type: "bogus", At: t0}).Err, fsm.ErrInvalidEvent)
		require.Equal(t, uint64(5), f.AppliedIndex())
	})
	t.Run("BatchResultsAlign", func(t *testing.T) {
		f := fsm.New()
		data, err := fsm.Encode([]fsm.Event{
			{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("a")},
			{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("a")},
			{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("b")},
		})
		require.NoError(t, err)
		res := f.Apply(7, data)
		require.Len(t, res, 3)
		require.NoError(t, res[0].Err)
		require.ErrorIs(t, res[1].Err, fsm.ErrExists)
		require.NoError(t, res[2].Err)
		require.Equal(t, 2, f.Count())
	})
	t.Run("UndecodableEntry", func(t *testing.T) {
		f := fsm.New()
		res := f.Apply(1, []byte{9, '{'})
		require.Len(t, res, 1)
		require.ErrorIs(t, res[0].Err, fsm.ErrUnsupportedVersion)
		res = f.Apply(2, []byte{fsm.EnvelopeVersion, '{'})
		require.ErrorIs(t, res[0].Err, fsm.ErrCorrupt)
		require.Equal(t, uint64(2), f.AppliedIndex())
		require.Equal(t, 0, f.Count())
	})
	t.Run("StoredValuesAreNotAliased", func(t *testing.T) {
		f := fsm.New()
		r := applyOne(t, f, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("a")})
		before, _ := f.Get("a")
		applyOne(t, f, 2, fsm.Event{Type: fsm.SchedulePaused, At: t0, ID: "a"})
		require.False(t, before.Paused, "an earlier read must not change under the reader")
		require.False(t, r.Schedule.Paused)
	})
}

func TestFSM_Digest(t *testing.T) {
	t.Run("OrderIndependentForSameState", func(t *testing.T) {
		a, b := fsm.New(), fsm.New()
		applyOne(t, a, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("x")})
		applyOne(t, a, 2, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("y")})
		applyOne(t, b, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("y")})
		applyOne(t, b, 2, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("x")})
		require.Equal(t, a.Digest(), b.Digest())
	})
	t.Run("ChangesWithState", func(t *testing.T) {
		f := fsm.New()
		empty := f.Digest()
		applyOne(t, f, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("x")})
		one := f.Digest()
		require.NotEqual(t, empty, one)
		applyOne(t, f, 2, fsm.Event{Type: fsm.SchedulePaused, At: t0, ID: "x"})
		require.NotEqual(t, one, f.Digest())
		applyOne(t, f, 3, fsm.Event{Type: fsm.ScheduleDeleted, At: t0, ID: "x"})
		require.Equal(t, empty, f.Digest())
	})
}

func TestFSM_List(t *testing.T) {
	f := fsm.New()
	for i, id := range []string{"c", "a", "e", "b", "d"} {
		applyOne(t, f, uint64(i+1), fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched(id)})
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		page, next := f.List(cursor, 2)
		for _, s := range page {
			got = append(got, s.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, got)
	page, next := f.List("e", 10)
	require.Empty(t, page)
	require.Empty(t, next)
}

func TestSnapshot_Restore(t *testing.T) {
	t.Run("RoundTrip", func(t *testing.T) {
		f := fsm.New()
		for i, ev := range scenarios["lifecycle"] {
			applyOne(t, f, uint64(i+1), ev)
		}
		applyOne(t, f, 100, scenarios["nodes"][0])
		var buf bytes.Buffer
		_, err := f.Snapshot().WriteTo(&buf)
		require.NoError(t, err)
		g := fsm.New()
		applyOne(t, g, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("stale")})
		require.NoError(t, g.Restore(bytes.NewReader(buf.Bytes())))
		require.Equal(t, f.Digest(), g.Digest())
		require.Equal(t, f.AppliedIndex(), g.AppliedIndex())
		_, ok := g.Get("stale")
		require.False(t, ok, "restore must discard previous state")
		require.Equal(t, f.Nodes(), g.Nodes())
	})
	t.Run("ErrCorruptLeavesStateUntouched", func(t *testing.T) {
		g := fsm.New()
		applyOne(t, g, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("keep")})
		before := g.Digest()
		for name, in := range map[string]string{
			"Empty":        "",
			"BadHeader":    "{",
			"WrongVersion": `{"v":99,"index":1,"schedules":0,"nodes":0}`,
			"Truncated":    `{"v":1,"index":1,"schedules":2,"nodes":0}` + "\n" + `{"s":{"id":"a"}}`,
			"EmptyRecord":  `{"v":1,"index":1,"schedules":1,"nodes":0}` + "\n{}",
			"Duplicate":    `{"v":1,"index":1,"schedules":2,"nodes":0}` + "\n" + `{"s":{"id":"a"}}` + "\n" + `{"s":{"id":"a"}}`,
		} {
			t.Run(name, func(t *testing.T) {
				require.Error(t, g.Restore(strings.NewReader(in)))
				require.Equal(t, before, g.Digest())
			})
		}
	})
}

func TestFSM_RunRetention(t *testing.T) {
	f := fsm.New()
	applyOne(t, f, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("a")})
	index := uint64(2)
	total := fsm.RunHistoryLimit + 20
	for i := 0; i < total; i++ {
		nominal := t0.Add(time.Duration(i+1) * time.Second)
		r := applyOne(t, f, index, fsm.Event{Type: fsm.RunFired, At: nominal, Run: run("a", nominal, fsm.TriggerScheduled)})
		require.NoError(t, r.Err)
		require.NoError(t, applyOne(t, f, index+1, fsm.Event{Type: fsm.RunSucceeded, At: nominal, RunID: r.Run.ID, Attempt: 1}).Err)
		index += 2
	}
	runs, _ := f.Runs(fsm.RunFilter{ScheduleID: "a"}, "", 1000)
	require.Len(t, runs, fsm.RunHistoryLimit, "count bound")
	require.Equal(t, fsm.RunID("a", t0.Add(time.Duration(total)*time.Second)), runs[len(runs)-1].ID, "newest kept")
	s, _ := f.Get("a")
	require.Equal(t, total, s.FiredRuns)

	late := t0.Add(fsm.RunHistoryMaxAge + time.Hour)
	applyOne(t, f, index, fsm.Event{Type: fsm.RunFired, At: late, Run: run("a", late, fsm.TriggerScheduled)})
	runs, _ = f.Runs(fsm.RunFilter{ScheduleID: "a"}, "", 1000)
	require.Len(t, runs, 1, "age bound keeps only the active run")
	require.Len(t, f.ActiveRuns(), 1)

	applyOne(t, f, index+1, fsm.Event{Type: fsm.ScheduleDeleted, At: late, ID: "a"})
	runs, _ = f.Runs(fsm.RunFilter{}, "", 1000)
	require.Empty(t, runs, "deleting a schedule drops its runs")
}

func TestFSM_Runs(t *testing.T) {
	f := fsm.New()
	applyOne(t, f, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("a")})
	applyOne(t, f, 2, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("b")})
	for i, id := range []string{"a", "b", "a", "b", "a"} {
		applyOne(t, f, uint64(3+i), fsm.Event{Type: fsm.RunFired, At: at(i), Run: run(id, at(i), fsm.TriggerScheduled)})
	}
	applyOne(t, f, 9, fsm.Event{Type: fsm.RunSucceeded, At: at(9), RunID: fsm.RunID("a", at(0)), Attempt: 1})
	var got []string
	cursor := ""
	for {
		page, next := f.Runs(fsm.RunFilter{ScheduleID: "a"}, cursor, 2)
		for _, r := range page {
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	require.Equal(t, []string{fsm.RunID("a", at(0)), fsm.RunID("a", at(2)), fsm.RunID("a", at(4))}, got)
	fired, _ := f.Runs(fsm.RunFilter{Status: fsm.StatusFired}, "", 10)
	require.Len(t, fired, 4)
	require.Len(t, f.ActiveRunsOf("b"), 2)
	require.Len(t, f.Schedules(), 2)
}

func TestFSM_RunRetention_Policy(t *testing.T) {
	f := fsm.New()
	s := sched("a")
	s.Policy.HistoryLimit = 3
	s.Policy.HistoryMaxAge = fsm.Duration(time.Hour)
	applyOne(t, f, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: s})
	index := uint64(2)
	for i := 0; i < 5; i++ {
		nominal := t0.Add(time.Duration(i+1) * time.Minute)
		r := applyOne(t, f, index, fsm.Event{Type: fsm.RunFired, At: nominal, Run: run("a", nominal, fsm.TriggerScheduled)})
		applyOne(t, f, index+1, fsm.Event{Type: fsm.RunFailed, At: nominal, RunID: r.Run.ID, Attempt: 1, Error: "boom"})
		index += 2
	}
	runs, _ := f.Runs(fsm.RunFilter{ScheduleID: "a"}, "", 100)
	require.Len(t, runs, 3, "policy.history_limit")
	later := t0.Add(2 * time.Hour)
	applyOne(t, f, index, fsm.Event{Type: fsm.RunFired, At: later, Run: run("a", later, fsm.TriggerScheduled)})
	runs, _ = f.Runs(fsm.RunFilter{ScheduleID: "a"}, "", 100)
	require.Len(t, runs, 1, "policy.history_max_age")
}
