package fsm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

// replay applies events one per entry to a new FSM.
func replay(t testing.TB, events []fsm.Event) *fsm.FSM {
	t.Helper()
	f := fsm.New()
	for i, ev := range events {
		data, err := fsm.Encode([]fsm.Event{ev})
		require.NoError(t, err)
		f.Apply(uint64(i+1), data)
	}
	return f
}

func snapshotBytes(t testing.TB, f *fsm.FSM) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := f.Snapshot().WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	return buf.Bytes()
}

func jsonSnapshot(t testing.TB, f *fsm.FSM) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := f.Snapshot().WriteJSONTo(&buf)
	require.NoError(t, err)
	return buf.Bytes()
}

// requireSameState checks everything a reader can see.
func requireSameState(t *testing.T, want, got *fsm.FSM) {
	t.Helper()
	require.Equal(t, want.Digest(), got.Digest())
	require.Equal(t, want.AppliedIndex(), got.AppliedIndex())
	require.Equal(t, want.Count(), got.Count())
	require.Equal(t, string(jsonSnapshot(t, want)), string(jsonSnapshot(t, got)))
	require.Equal(t, snapshotBytes(t, want), snapshotBytes(t, got))
	require.Equal(t, want.Nodes(), got.Nodes())
	require.Equal(t, want.Handlers(), got.Handlers())
	idsOf := func(runs []*fsm.Run) (ids []string) {
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	require.Equal(t, idsOf(want.ActiveRuns()), idsOf(got.ActiveRuns()))
	wantRuns, _ := want.Runs(fsm.RunFilter{}, "", 1<<20)
	gotRuns, _ := got.Runs(fsm.RunFilter{}, "", 1<<20)
	require.Equal(t, idsOf(wantRuns), idsOf(gotRuns))
}

func TestSnapshot_RestoreV1Fixture(t *testing.T) {
	fixture, err := os.ReadFile("testdata/v1.snapshot")
	require.NoError(t, err)
	replayed := replay(t, v1FixtureEvents())
	restored := fsm.New()
	require.NoError(t, restored.Restore(bytes.NewReader(fixture)))
	requireSameState(t, replayed, restored)
	// The JSON form round-trips byte for byte.
	require.Equal(t, string(fixture), string(jsonSnapshot(t, restored)))
	// Retention continues identically on both.
	for _, f := range []*fsm.FSM{replayed, restored} {
		applyOne(t, f, 100, fsm.Event{Type: fsm.RunFired, At: at(50), Run: run("c", at(50), fsm.TriggerScheduled)})
		applyOne(t, f, 101, fsm.Event{Type: fsm.RunLost, At: at(51), RunID: fsm.RunID("c", at(50)), Attempt: 1})
	}
	requireSameState(t, replayed, restored)
}

func TestSnapshot_WriteTo(t *testing.T) {
	t.Run("RoundTrip", func(t *testing.T) {
		cases := map[string][]fsm.Event{"v1fixture": v1FixtureEvents()}
		for name, events := range scenarios {
			cases[name] = events
		}
		for name, events := range cases {
			t.Run(name, func(t *testing.T) {
				f := replay(t, events)
				g := fsm.New()
				applyOne(t, g, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("stale")})
				require.NoError(t, g.Restore(bytes.NewReader(snapshotBytes(t, f))))
				requireSameState(t, f, g)
				_, ok := g.Get("stale")
				require.False(t, ok, "restore must discard previous state")
				// and through the JSON form
				h := fsm.New()
				require.NoError(t, h.Restore(bytes.NewReader(jsonSnapshot(t, f))))
				requireSameState(t, f, h)
			})
		}
	})
	t.Run("EqualStatesEqualBytes", func(t *testing.T) {
		events := v1FixtureEvents()
		a := replay(t, events)
		// The same state built with every schedule created in one entry
		// and in reverse order.
		b := fsm.New()
		var creates []fsm.Event
		var rest []fsm.Event
		for _, ev := range events {
			if ev.Type == fsm.ScheduleCreated {
				creates = append([]fsm.Event{ev}, creates...)
			} else {
				rest = append(rest, ev)
			}
		}
		data, err := fsm.Encode(creates)
		require.NoError(t, err)
		b.Apply(1, data)
		for _, ev := range rest {
			data, err := fsm.Encode([]fsm.Event{ev})
			require.NoError(t, err)
			b.Apply(2, data)
		}
		// applied indexes differ; bring them level
		applyOne(t, a, uint64(len(events)+1), fsm.Event{Type: fsm.Noop, At: t0})
		applyOne(t, b, uint64(len(events)+1), fsm.Event{Type: fsm.Noop, At: t0})
		require.Equal(t, snapshotBytes(t, a), snapshotBytes(t, b))
	})
	t.Run("ConcurrentApply", func(t *testing.T) {
		// A snapshot taken before further applies encodes the state it was
		// taken at, whatever happens while it is written.
		f := replay(t, v1FixtureEvents())
		want := snapshotBytes(t, f)
		snap := f.Snapshot()
		applyOne(t, f, 100, fsm.Event{Type: fsm.ScheduleDeleted, At: at(60), ID: "c"})
		applyOne(t, f, 101, fsm.Event{Type: fsm.SchedulePaused, At: at(60), ID: "b"})
		var buf bytes.Buffer
		_, err := snap.WriteTo(&buf)
		require.NoError(t, err)
		require.Equal(t, want, buf.Bytes())
	})
}

func TestSnapshot_Restore_Corrupt(t *testing.T) {
	good := snapshotBytes(t, replay(t, v1FixtureEvents()))
	g := fsm.New()
	applyOne(t, g, 1, fsm.Event{Type: fsm.ScheduleCreated, At: t0, Schedule: sched("keep")})
	before, cursor := g.Digest(), g.ChangeCursor()
	check := func(t *testing.T, data []byte) {
		t.Helper()
		err := g.Restore(bytes.NewReader(data))
		require.Error(t, err)
		require.True(t, errors.Is(err, fsm.ErrCorrupt) || errors.Is(err, fsm.ErrUnsupportedVersion), "%v", err)
		require.Equal(t, before, g.Digest())
		require.Equal(t, 1, g.Count())
		_, _, ok := g.ChangesSince(cursor, nil, 0)
		require.True(t, ok, "a failed restore must not invalidate cursors")
	}
	t.Run("Truncated", func(t *testing.T) {
		for n := range len(good) {
			check(t, good[:n])
		}
	})
	t.Run("TrailingData", func(t *testing.T) {
		check(t, append(bytes.Clone(good), 0))
	})
	t.Run("BitFlips", func(t *testing.T) {
		for i := range good {
			for _, bit := range []byte{1 << (i % 8)} {
				bad := bytes.Clone(good)
				bad[i] ^= bit
				check(t, bad)
			}
		}
	})
}

// v1FixtureEvents built testdata/v1.snapshot with the version-1 code
// (before snapshot format 2 and the canonical-encoding digest); the same
// events replayed now must give the state that the fixture restores to.
// Do not change them: the fixture would no longer match.
func v1FixtureEvents() []fsm.Event {
	plus2 := time.FixedZone("", 2*3600)
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, plus2)
	end := time.Date(2027, 1, 1, 0, 0, 0, 500, time.UTC)
	b := sched("b")
	b.StartAt, b.EndAt = &start, &end
	b.Params = json.RawMessage(`{"html":"<b>&</b>", "list":[1,2.5,-3e2,true,null],"s":"\u00e9\u2028"}`)
	b.Trigger = trigger.Spec{Every: "90s"}
	b.MaxRuns = 7
	c := sched("c")
	c.Trigger = trigger.Spec{At: "2027-01-01T00:00:00Z"}
	c.Policy.HistoryLimit = 2
	notBefore := at(40)
	events := []fsm.Event{
		{Type: fsm.ScheduleCreated, At: at(0), Schedule: sched("a")},
		{Type: fsm.ScheduleCreated, At: at(0), Schedule: b},
		{Type: fsm.ScheduleCreated, At: at(0), Schedule: c},
		{Type: fsm.SchedulePaused, At: at(1), ID: "a"},
		{Type: fsm.NodeUpserted, At: at(1), Node: &fsm.NodeInfo{ID: "n1", HTTPAddr: "127.0.0.1:8888", RaftAddr: "127.0.0.1:4243", ZMQAddr: "tcp://127.0.0.1:4242"}},
		{Type: fsm.NodeUpserted, At: at(1), Node: &fsm.NodeInfo{ID: "n2", HTTPAddr: "127.0.0.2:8888"}},
		{Type: fsm.HandlerRegistered, At: at(2), Handler: &fsm.HandlerInfo{Name: "reports", Instance: "h1", Methods: []string{"generate", "run"}, Capacity: 4}},
		{Type: fsm.HandlerRegistered, At: at(2), Handler: &fsm.HandlerInfo{Name: "bench", Instance: "h2", Capacity: 1}},
		{Type: fsm.RunSkipped, At: at(3), Run: run("a", at(3), fsm.TriggerScheduled), Error: "paused"},
		{Type: fsm.RunMissed, At: at(5), Run: run("a", at(4), fsm.TriggerCatchup), Error: "outside catchup window"},
		{Type: fsm.RunFired, At: at(6), Run: run("b", at(6), fsm.TriggerScheduled)},
		{Type: fsm.RunAccepted, At: at(6), RunID: fsm.RunID("b", at(6)), Attempt: 1, Instance: "h1"},
		{Type: fsm.RunRetried, At: at(7), RunID: fsm.RunID("b", at(6)), Attempt: 1, Error: "handler lost", NotBefore: &notBefore},
		{Type: fsm.RunFired, At: at(8), Run: &fsm.Run{ID: fsm.ManualRunID("b", "req-1"), ScheduleID: "b", NominalAt: at(8), Trigger: fsm.TriggerManual}},
	}
	for i := 10; i < 14; i++ {
		id := fsm.RunID("c", at(i))
		events = append(events,
			fsm.Event{Type: fsm.RunFired, At: at(i), Run: run("c", at(i), fsm.TriggerScheduled)},
			fsm.Event{Type: fsm.RunAccepted, At: at(i), RunID: id, Attempt: 1, Instance: "h2"},
		)
		if i%2 == 0 {
			events = append(events, fsm.Event{Type: fsm.RunSucceeded, At: at(i + 1), RunID: id, Attempt: 1, Result: json.RawMessage(`{"rows": [1, 2]}`)})
		} else {
			events = append(events, fsm.Event{Type: fsm.RunFailed, At: at(i + 1), RunID: id, Attempt: 1, Error: "exit status 1"})
		}
	}
	return events
}
