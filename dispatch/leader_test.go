package dispatch_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/dispatch"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
	"github.com/schedulezero/schedulezero/wire"
)

// TestLeader_Run: with many schedules, none due, the leader loop sleeps
// until the next real deadline; it does not poll.
func TestLeader_Run(t *testing.T) {
	t.Parallel()
	const n, idle = 20_000, time.Minute
	setup := func(t *testing.T) *harness {
		t.Helper()
		h := newHarness(t, nil)
		h.c.createMany(t, "idle", n, func(i int) trigger.Spec {
			if i%2 == 0 {
				return trigger.Spec{Cron: "0 3 * * *", Timezone: "Europe/Berlin"}
			}
			return every("6h")
		})
		h.lead()
		return h
	}

	t.Run("IdleWakesOnlyForHeartbeats", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			h := setup(t)
			synctest.Wait()
			w0 := h.d.LeaderWakes()
			time.Sleep(idle)
			synctest.Wait()
			wakes := h.d.LeaderWakes() - w0
			require.InDelta(t, 60, wakes, 1, "one wake per heartbeat interval, got %d", wakes)
		})
	})

	t.Run("IdleWithHandlerWakesForItsHeartbeats", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			h := setup(t)
			h.l.addHandler("i1", 4, true)
			synctest.Wait()
			w0 := h.d.LeaderWakes()
			time.Sleep(idle)
			synctest.Wait()
			wakes := h.d.LeaderWakes() - w0
			// Our heartbeat tick and the handler's heartbeat message.
			require.LessOrEqual(t, wakes, uint64(2*60+2), "got %d", wakes)
		})
	})

	t.Run("DueScheduleAmongManyFiresOnTime", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			h := setup(t)
			hd := h.l.addHandler("i1", 4, true)
			synctest.Wait()
			h.create("due", every("10s"), nil)
			time.Sleep(10500 * time.Millisecond)
			synctest.Wait()
			ds := hd.dispatches()
			require.Len(t, ds, 1)
			require.True(t, ds[0].at.Equal(*ds[0].msg.NominalAt))
		})
	})
}

// TestLeader_AdoptionHold: after a failover, runs decided by an earlier
// leadership are held until the instance that may run them can say hello
// (double-execution protection); the hold ends early once every registered
// instance has said hello.
func TestLeader_AdoptionHold(t *testing.T) {
	t.Parallel()
	// failover leads term 1, adds handlers (registered by this term), fires
	// one run at 10 s to the first (which never accepts it), flips
	// leadership at 10.5 s and returns the run ID and the new term's start.
	failover := func(t *testing.T, h *harness, handlers func()) (string, time.Time) {
		t.Helper()
		h.lead()
		handlers()
		synctest.Wait()
		h.create("s", every("10s"), nil)
		time.Sleep(10500 * time.Millisecond)
		synctest.Wait()
		runs := h.runs("s")
		require.Len(t, runs, 1)
		h.c.setLeader(false)
		gained := time.Now()
		h.lead() // the new loop starts at once; lead then sleeps 1 ms
		return runs[0].ID, gained
	}
	hello := func(hd *fakeHandler, running ...string) {
		hd.send(wire.Message{Type: wire.TypeHello, Name: hd.name, Instance: hd.instance, Capacity: hd.capacity, Running: running})
	}
	dispatchedAt := func(t *testing.T, hd *fakeHandler, runID string, term uint64) time.Time {
		t.Helper()
		for _, d := range hd.dispatches() {
			if d.msg.RunID == runID && d.msg.Term == term {
				return d.at
			}
		}
		t.Fatalf("run %s not dispatched to %s in term %d", runID, hd.instance, term)
		return time.Time{}
	}

	t.Run("EndsWhenEveryRegisteredInstanceSaidHello", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, nil)
			var a *fakeHandler
			runID, gained := failover(t, h, func() { a = h.l.addHandler("a", 10, false) })
			require.Len(t, a.dispatches(), 1)
			time.Sleep(100 * time.Millisecond)
			a.accept = true
			hello(a, runID)
			time.Sleep(3 * time.Second)
			synctest.Wait()
			at := dispatchedAt(t, a, runID, h.c.term.Load())
			require.Equal(t, 101*time.Millisecond, at.Sub(gained), "released by the last hello, not after 1.5 heartbeats")
			r, _ := h.c.f.Run(runID)
			require.Equal(t, fsm.StatusSucceeded, r.Status)
		})
	})

	t.Run("HeldWhileARegisteredInstanceIsSilent", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, nil)
			var a, b *fakeHandler
			runID, gained := failover(t, h, func() {
				a = h.l.addHandler("a", 10, false)
				b = h.l.addHandler("b", 10, false) // registered, silent in term 2
			})
			require.Len(t, a.dispatches(), 1)
			b.silent.Store(true)
			time.Sleep(100 * time.Millisecond)
			a.accept = true
			hello(a) // a does not have it; b might
			time.Sleep(3 * time.Second)
			synctest.Wait()
			at := dispatchedAt(t, a, runID, h.c.term.Load())
			require.Equal(t, 1500*time.Millisecond, at.Sub(gained), "held 1.5 heartbeats for the silent instance")
		})
	})

	t.Run("NoRegisteredInstances", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			h := newHarness(t, nil)
			runID, gained := failover(t, h, func() {}) // no handler ever registered: nothing can hold the run
			time.Sleep(200 * time.Millisecond)
			a := h.l.addHandler("a", 10, true)
			time.Sleep(time.Second)
			synctest.Wait()
			at := dispatchedAt(t, a, runID, h.c.term.Load())
			require.Equal(t, 201*time.Millisecond, at.Sub(gained))
		})
	})
}

// TestLeader_MemoryPerSchedule measures the leader's memory per idle
// schedule (the FSM's own share excluded): budget 200 B.
func TestLeader_MemoryPerSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 100k schedules")
	}
	const n = 100_000
	c := newFakeCluster()
	c.createMany(t, "m", n, func(i int) trigger.Spec {
		switch i % 4 {
		case 0:
			return trigger.Spec{Cron: fmt.Sprintf("%d 3 * * *", i%60), Timezone: "Europe/Berlin"}
		case 1:
			return trigger.Spec{Cron: "*/5 * * * *"}
		default:
			return every(fmt.Sprintf("%dm", 1+i%90))
		}
	})
	before := heapInUse()
	tl := newTestLeader(t, c, clockAt(time.Now()), nil)
	after := heapInUse()
	scheds, _ := tl.Tracked()
	require.Equal(t, n, scheds)
	perSchedule := float64(after-before) / n
	t.Logf("leader memory: %.0f B per idle schedule (%d schedules)", perSchedule, n)
	require.LessOrEqual(t, perSchedule, 200.0)
}

func TestRunID_MatchesFSM(t *testing.T) {
	t.Parallel()
	for _, n := range []time.Time{
		time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC),
	} {
		require.Equal(t, fsm.RunID("a-schedule", n), dispatch.RunIDForTest("a-schedule", n))
	}
}
