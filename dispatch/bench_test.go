package dispatch_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/trigger"
)

// finishAll commits run.succeeded for every active run (between rounds).
func finishAll(b *testing.B, c *fakeCluster) {
	b.Helper()
	var evs []fsm.Event
	for _, r := range c.f.ActiveRuns() {
		evs = append(evs, fsm.Event{Type: fsm.RunSucceeded, RunID: r.ID, Attempt: r.Attempt})
	}
	if len(evs) > 0 {
		c.applyAll(b, evs)
	}
}

// BenchmarkLeader_FireDue: n schedules fall due at the same instant; one
// op is one round: decide all, commit (fake cluster = real FSM, so the
// FSM's encode/decode/apply is included), run the callbacks and track the
// runs (no handler connected, so nothing is sent). Reported per fire:
// ns/fire, B/fire, allocs/fire.
//
// Allocation budget (dispatcher share, per fire): run ID (1), every-trigger
// compile ×2 (decide and re-arm), runState (1), map growth (amortized).
// Everything else measured here is the fake cluster and the FSM.
func BenchmarkLeader_FireDue(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			clk := clock.NewFake(t0)
			c := newFakeCluster()
			c.nowFunc = clk.Now
			c.createMany(b, "f", n, func(int) trigger.Spec { return every("1s") })
			tl := newTestLeader(b, c, clk, nil)
			var ms runtime.MemStats
			var mallocs, bytes uint64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				runtime.ReadMemStats(&ms)
				m0, b0 := ms.Mallocs, ms.TotalAlloc
				clk.Advance(time.Second)
				b.StartTimer()
				require.NoError(b, tl.Step())
				b.StopTimer()
				runtime.ReadMemStats(&ms)
				mallocs += ms.Mallocs - m0
				bytes += ms.TotalAlloc - b0
				_, runs := tl.Tracked()
				require.Equal(b, n, runs)
				finishAll(b, c)
				require.NoError(b, tl.Step()) // drain the feed: untrack
				b.StartTimer()
			}
			fires := float64(b.N * n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/fires, "ns/fire")
			b.ReportMetric(float64(bytes)/fires, "B/fire")
			b.ReportMetric(float64(mallocs)/fires, "allocs/fire")
		})
	}
}

// BenchmarkLeader_FireDueBaseline commits the same decisions as
// BenchmarkLeader_FireDue straight through the fake cluster (batches of
// 500, no leader): the difference between the two is the dispatcher's own
// cost per fire.
func BenchmarkLeader_FireDueBaseline(b *testing.B) {
	const n = 1_000
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	c := newFakeCluster()
	c.leader.Store(true)
	c.nowFunc = clk.Now
	c.createMany(b, "f", n, func(int) trigger.Spec { return every("1s") })
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("f-%07d", i)
	}
	var ms runtime.MemStats
	var mallocs, bytes uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		m0, b0 := ms.Mallocs, ms.TotalAlloc
		clk.Advance(time.Second)
		nominal := clk.Now()
		b.StartTimer()
		for lo := 0; lo < n; lo += 500 {
			evs := make([]fsm.Event, 0, 500)
			for _, id := range ids[lo:min(n, lo+500)] {
				evs = append(evs, fsm.Event{Type: fsm.RunFired, Run: &fsm.Run{ID: fsm.RunID(id, nominal), ScheduleID: id,
					NominalAt: nominal, DueAt: nominal, Trigger: fsm.TriggerScheduled}})
			}
			res, err := c.Propose(b.Context(), evs...)
			require.NoError(b, err)
			require.NoError(b, res[0].Err)
		}
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - m0
		bytes += ms.TotalAlloc - b0
		finishAll(b, c)
		b.StartTimer()
	}
	fires := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/fires, "ns/fire")
	b.ReportMetric(float64(bytes)/fires, "B/fire")
	b.ReportMetric(float64(mallocs)/fires, "allocs/fire")
}

// BenchmarkLeader_Resync: the full rescan at leadership gain (one op),
// the failover cost that grows with the number of schedules.
func BenchmarkLeader_Resync(b *testing.B) {
	const n = 100_000
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	c := newFakeCluster()
	c.nowFunc = clk.Now
	c.createMany(b, "r", n, func(i int) trigger.Spec {
		if i%2 == 0 {
			return trigger.Spec{Cron: fmt.Sprintf("%d 3 * * *", i%60), Timezone: "Europe/Berlin"}
		}
		return every(fmt.Sprintf("%dm", 1+i%90))
	})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tl := newTestLeader(b, c, clk, nil)
		b.StopTimer()
		tl.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/schedule")
}
