package dispatch_test

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/dispatch"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/trigger"
)

// nominals returns the nominal times of a schedule's runs relative to t0.
func (h *harness) nominals(scheduleID string, t0 time.Time) []time.Duration {
	var out []time.Duration
	for _, r := range h.runs(scheduleID) {
		out = append(out, r.NominalAt.Sub(t0))
	}
	return out
}

// TestLeader_ChangeFeed: the leader follows the FSM change feed instead of
// rescanning; the only full rescan is the one at leadership gain.
func TestLeader_ChangeFeed(t *testing.T) {
	t.Parallel()
	type bundle struct {
		h   *harness
		reg *prometheus.Registry
		t0  time.Time
	}
	setup := func(t *testing.T) bundle {
		t.Helper()
		reg := prometheus.NewRegistry()
		h := newHarness(t, func(c *dispatch.Config) { c.Registerer = reg })
		h.lead()
		h.l.addHandler("i1", 10, true)
		synctest.Wait()
		return bundle{h: h, reg: reg, t0: time.Now()}
	}
	onlyGainRescan := func(t *testing.T, b bundle) {
		t.Helper()
		require.Equal(t, 1.0, metricValue(t, b.reg, "sz_dispatch_resyncs_total", "reason", "leadership"))
		require.Zero(t, metricValue(t, b.reg, "sz_dispatch_resyncs_total", "reason", "feed"))
		require.Zero(t, metricValue(t, b.reg, "sz_dispatch_resyncs_total", "reason", "interval"))
	}

	t.Run("NewScheduleArmedWithoutResync", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			time.Sleep(5 * time.Second) // long after the last rescan
			b.h.create("s", every("1s"), nil)
			created := time.Now()
			time.Sleep(2500 * time.Millisecond)
			synctest.Wait()
			require.Equal(t, []time.Duration{time.Second, 2 * time.Second}, b.h.nominals("s", created))
			for _, r := range b.h.runs("s") {
				require.Equal(t, fsm.StatusSucceeded, r.Status)
				require.True(t, r.FiredAt.Equal(r.NominalAt), "fired %v for %v", r.FiredAt, r.NominalAt)
			}
			onlyGainRescan(t, b)
		})
	})

	t.Run("Pause", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.h.create("s", every("1s"), nil)
			time.Sleep(1500 * time.Millisecond)
			require.NoError(t, b.h.apply(fsm.Event{Type: fsm.SchedulePaused, ID: "s"}).Err)
			time.Sleep(5 * time.Second)
			synctest.Wait()
			require.Equal(t, []time.Duration{time.Second}, b.h.nominals("s", b.t0))
			onlyGainRescan(t, b)
		})
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.h.create("s", every("1s"), nil)
			b.h.create("keep", every("1s"), nil)
			time.Sleep(1500 * time.Millisecond)
			require.NoError(t, b.h.apply(fsm.Event{Type: fsm.ScheduleDeleted, ID: "s"}).Err)
			time.Sleep(3 * time.Second)
			synctest.Wait()
			require.Empty(t, b.h.runs("s"))
			require.Len(t, b.h.runs("keep"), 4)
			onlyGainRescan(t, b)
		})
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.h.create("s", every("1s"), nil)
			time.Sleep(2500 * time.Millisecond)
			s, ok := b.h.c.f.Get("s")
			require.True(t, ok)
			upd := *s
			upd.Trigger = every("10s") // anchored at creation: next at 10 s
			require.NoError(t, b.h.apply(fsm.Event{Type: fsm.ScheduleUpdated, Schedule: &upd}).Err)
			time.Sleep(18 * time.Second)
			synctest.Wait()
			require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 10 * time.Second, 20 * time.Second}, b.h.nominals("s", b.t0))
			onlyGainRescan(t, b)
		})
	})

	t.Run("ManualTriggerTracked", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t)
			b.h.create("s", every("1h"), func(s *fsm.Schedule) { s.Paused = true })
			synctest.Wait()
			r, err := b.h.d.Trigger(t.Context(), "s", "req")
			require.NoError(t, err)
			synctest.Wait()
			got, _ := b.h.c.f.Run(r.ID)
			require.Equal(t, fsm.StatusSucceeded, got.Status)
			onlyGainRescan(t, b)
		})
	})
}

// newTestLeader builds a synchronous leader over a fake cluster whose
// clock is clk.
func newTestLeader(t testing.TB, c *fakeCluster, clk clock.Clock, reg prometheus.Registerer) *dispatch.TestLeader {
	t.Helper()
	c.leader.Store(true)
	tl, err := dispatch.NewTestLeader(dispatch.Config{Cluster: c, Listener: newFakeListener(nil), NodeID: "n1", Clock: clk, Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(tl.Close)
	return tl
}

// TestLeader_Resync: a full rescan happens when the feed no longer covers
// the leader's cursor (it fell behind, or a snapshot was restored) and
// aligns timers with the FSM.
func TestLeader_Resync(t *testing.T) {
	t.Parallel()
	type bundle struct {
		c   *fakeCluster
		clk *clock.Fake
		reg *prometheus.Registry
		tl  *dispatch.TestLeader
	}
	setup := func(t *testing.T) bundle {
		t.Helper()
		t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		clk := clock.NewFake(t0)
		c := newFakeCluster()
		c.nowFunc = clk.Now
		c.createMany(t, "old", 3, func(int) trigger.Spec { return every("1h") })
		reg := prometheus.NewRegistry()
		tl := newTestLeader(t, c, clk, reg)
		require.NoError(t, tl.Step())
		n, _ := tl.Tracked()
		require.Equal(t, 3, n)
		return bundle{c: c, clk: clk, reg: reg, tl: tl}
	}

	t.Run("FeedOverflow", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// One entry with more changes than the feed keeps (fsm's ring holds
		// 1<<16): pause and resume old-0000000 over and over (ending
		// resumed), pause old-0000001, delete old-0000002, create a new
		// schedule.
		var evs []fsm.Event
		for i := 0; i < 1<<16+100; i++ {
			typ := fsm.SchedulePaused
			if i%2 == 1 {
				typ = fsm.ScheduleResumed
			}
			evs = append(evs, fsm.Event{Type: typ, ID: "old-0000000"})
		}
		evs = append(evs,
			fsm.Event{Type: fsm.SchedulePaused, ID: "old-0000001"},
			fsm.Event{Type: fsm.ScheduleDeleted, ID: "old-0000002"},
			fsm.Event{Type: fsm.ScheduleCreated, Schedule: &fsm.Schedule{ID: "new", Handler: "h", Method: "m", Trigger: every("1s"), Policy: fsm.DefaultPolicy}})
		b.c.applyAll(t, evs)
		require.NoError(t, b.tl.Step())
		require.Equal(t, 1.0, metricValue(t, b.reg, "sz_dispatch_resyncs_total", "reason", "feed"))
		n, _ := b.tl.Tracked()
		require.Equal(t, 2, n, "old-0000000 (resumed) and new")
		require.True(t, b.clk.Now().Add(time.Second).Equal(b.tl.NextWake()), "the new schedule's timer is armed")
	})

	t.Run("SnapshotRestore", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := newFakeCluster()
		other.nowFunc = b.clk.Now
		other.createMany(t, "restored", 5, func(int) trigger.Spec { return every("1h") })
		var snap bytes.Buffer
		_, err := other.f.Snapshot().WriteTo(&snap)
		require.NoError(t, err)
		require.NoError(t, b.c.f.Restore(&snap))
		require.NoError(t, b.tl.Step())
		require.Equal(t, 1.0, metricValue(t, b.reg, "sz_dispatch_resyncs_total", "reason", "feed"))
		n, _ := b.tl.Tracked()
		require.Equal(t, 5, n)
	})

	t.Run("IntervalSafetyNetOffByDefault", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for range 10 {
			b.clk.Advance(time.Minute)
			require.NoError(t, b.tl.Step())
		}
		require.Equal(t, 1.0, metricValue(t, b.reg, "sz_dispatch_resyncs_total", "reason", "leadership"))
		require.Zero(t, metricValue(t, b.reg, "sz_dispatch_resyncs_total", "reason", "interval"))
	})
}
