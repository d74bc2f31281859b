package dispatch_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/dispatch"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/wire"
)

// release lets held Propose call i (in arrival order) proceed.
func (c *fakeCluster) release(t *testing.T, i int) {
	t.Helper()
	calls := c.heldCalls()
	require.Greater(t, len(calls), i)
	close(calls[i].release)
	synctest.Wait()
}

// scheduleIDs lists the schedule of each dispatch received, in order.
func scheduleIDs(h *fakeHandler) []string {
	var out []string
	for _, d := range h.dispatches() {
		out = append(out, d.msg.ScheduleID)
	}
	return out
}

// TestLeader_Commit: fire decisions and handler events are committed by
// proposals running concurrently with the leader loop; their callbacks run
// on the loop, in submission order.
func TestLeader_Commit(t *testing.T) {
	t.Parallel()
	type bundle struct {
		h   *harness
		hd  *fakeHandler
		reg *prometheus.Registry
		t0  time.Time
	}
	setup := func(t *testing.T, mod func(*dispatch.Config)) bundle {
		t.Helper()
		reg := prometheus.NewRegistry()
		h := newHarness(t, func(c *dispatch.Config) {
			c.Registerer = reg
			if mod != nil {
				mod(c)
			}
		})
		h.lead()
		hd := h.l.addHandler("i1", 10, true)
		synctest.Wait()
		return bundle{h: h, hd: hd, reg: reg, t0: time.Now()}
	}
	// staggered creates s1, s2, s3 firing first at t0+1s, +2s, +3s.
	staggered := func(b bundle) {
		for i, id := range []string{"s1", "s2", "s3"} {
			start := b.t0.Add(time.Duration(i+1) * time.Second)
			b.h.create(id, every("1h"), func(s *fsm.Schedule) { s.StartAt = &start })
		}
	}

	t.Run("SeveralBatchesInFlightCallbacksInOrder", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, nil)
			b.h.c.setHold(true)
			staggered(b)
			time.Sleep(3500 * time.Millisecond)
			synctest.Wait()
			require.Len(t, b.h.c.heldCalls(), 3, "one proposal per fire instant, none waiting for the previous")
			require.Equal(t, 3.0, metricValue(t, b.reg, "sz_dispatch_proposals_in_flight"))
			require.Empty(t, b.hd.dispatches(), "nothing is sent before its decision is committed")
			b.h.c.release(t, 2)
			b.h.c.release(t, 1)
			require.Empty(t, b.hd.dispatches(), "later batches wait for the first one's callbacks")
			b.h.c.setHold(false)
			b.h.c.release(t, 0)
			require.Equal(t, []string{"s1", "s2", "s3"}, scheduleIDs(b.hd))
			for _, d := range b.hd.dispatches() {
				require.True(t, d.at.Equal(b.t0.Add(3500*time.Millisecond)), "sent from the commit callback at %v", d.at)
			}
		})
	})

	t.Run("ScheduleNotDecidedTwiceWhileInFlight", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, func(c *dispatch.Config) {})
			b.h.c.setHold(true)
			b.h.create("s", every("1s"), func(s *fsm.Schedule) { s.Policy.Overlap = fsm.OverlapAllow })
			time.Sleep(3500 * time.Millisecond)
			synctest.Wait()
			calls := b.h.c.heldCalls()
			require.Len(t, calls, 1, "the 2 s and 3 s occurrences wait for the 1 s decision")
			require.Len(t, calls[0].evs, 1)
			b.h.c.release(t, 0)
			var fires [][]fsm.Event // held proposals with decisions (the others carry run.accepted)
			for _, c := range b.h.c.heldCalls()[1:] {
				if c.evs[0].Type == fsm.RunFired {
					fires = append(fires, c.evs)
				}
			}
			require.Len(t, fires, 1, "then both are decided in one proposal")
			require.Len(t, fires[0], 2)
			b.h.c.setHold(false)
			for _, c := range b.h.c.heldCalls()[1:] {
				close(c.release)
			}
			synctest.Wait()
			require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}, b.h.nominals("s", b.t0))
			require.Len(t, b.hd.dispatches(), 3)
		})
	})

	t.Run("BackpressureBoundsInFlight", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, func(c *dispatch.Config) { c.MaxInFlightProposals = 2 })
			b.h.c.setHold(true)
			staggered(b)
			time.Sleep(3500 * time.Millisecond)
			synctest.Wait()
			require.Len(t, b.h.c.heldCalls(), 2)
			b.h.c.release(t, 0)
			require.Len(t, b.h.c.heldCalls(), 3, "a slot freed: the waiting decision is proposed")
			require.Equal(t, []string{"s1"}, scheduleIDs(b.hd))
		})
	})

	t.Run("LeadershipLossMidFlightStopsCleanly", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, nil)
			b.h.c.setHold(true)
			staggered(b)
			time.Sleep(2500 * time.Millisecond)
			synctest.Wait()
			require.Len(t, b.h.c.heldCalls(), 2)
			sent := b.h.l.countType(wire.TypeDispatch)
			b.h.c.setLeader(false) // the loop stops; its proposals are cancelled and awaited
			synctest.Wait()
			require.False(t, b.h.d.IsLeading())
			require.Empty(t, b.h.d.Handlers())
			require.Zero(t, metricValue(t, b.reg, "sz_dispatch_proposals_in_flight"))
			time.Sleep(5 * time.Second)
			synctest.Wait()
			require.Equal(t, sent, b.h.l.countType(wire.TypeDispatch))
			require.Empty(t, b.h.runs("s1"))
		})
	})

	t.Run("DispatchLatencyIsCommitLatency", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			const n, spacing, commit = 200, 2 * time.Millisecond, 3 * time.Millisecond
			b := setup(t, nil)
			b.h.c.delay = commit // each commit outlasts the gap to the next fire
			for i := range n {
				start := b.t0.Add(time.Second + time.Duration(i)*spacing)
				b.h.create(fmt.Sprintf("s%03d", i), every("1h"), func(s *fsm.Schedule) { s.StartAt = &start })
			}
			time.Sleep(time.Second + n*spacing + 10*commit)
			synctest.Wait()
			ds := b.hd.dispatches()
			require.Len(t, ds, n)
			for _, d := range ds {
				require.Equal(t, commit, d.at.Sub(*d.msg.NominalAt), "run %s", d.msg.RunID)
			}
		})
	})

	t.Run("NotLeaderAnswerStopsLoop", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, nil)
			b.h.create("s", every("1s"), nil)
			synctest.Wait()
			b.h.c.leader.Store(false) // Raft says no before LeadershipChanges does
			time.Sleep(1500 * time.Millisecond)
			synctest.Wait()
			require.False(t, b.h.d.IsLeading())
			require.Empty(t, b.hd.dispatches())
		})
	})
}
