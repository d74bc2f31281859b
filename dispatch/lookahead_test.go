package dispatch_test

import (
	"encoding/json"
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

// histogram reads the sample count and sum of an unlabelled histogram.
func histogram(t testing.TB, reg *prometheus.Registry, name string) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	return 0, 0
}

// TestLeader_Lookahead: with Config.Lookahead the fire decision is
// committed before the due time and the run is dispatched exactly at its
// due time, never before; changes to the schedule between the decision and
// the due time apply to the run; overlap is decided at the due time; a new
// leader dispatches a precommitted run of its predecessor once, at its due
// time.
func TestLeader_Lookahead(t *testing.T) {
	t.Parallel()
	type bundle struct {
		h   *harness
		hd  *fakeHandler
		reg *prometheus.Registry
		t0  time.Time // creation time of the schedules made by the subtest
	}
	setup := func(t *testing.T, lookahead time.Duration, mod func(*dispatch.Config)) bundle {
		t.Helper()
		reg := prometheus.NewRegistry()
		h := newHarness(t, func(c *dispatch.Config) {
			c.Registerer, c.Lookahead = reg, lookahead
			if mod != nil {
				mod(c)
			}
		})
		h.lead()
		hd := h.l.addHandler("i1", 10, true)
		synctest.Wait()
		return bundle{h: h, hd: hd, reg: reg, t0: time.Now()}
	}
	// run returns the schedule's run at t0+offset.
	run := func(t *testing.T, b bundle, id string, offset time.Duration) *fsm.Run {
		t.Helper()
		r, ok := b.h.c.f.Run(fsm.RunID(id, b.t0.Add(offset)))
		require.True(t, ok, "no run of %s at %v", id, offset)
		return r
	}
	// update replaces schedule id with mod applied to its current value.
	update := func(t *testing.T, b bundle, id string, mod func(*fsm.Schedule)) {
		t.Helper()
		s, ok := b.h.c.f.Get(id)
		require.True(t, ok)
		upd := *s
		mod(&upd)
		require.NoError(t, b.h.apply(fsm.Event{Type: fsm.ScheduleUpdated, Schedule: &upd}).Err)
	}
	requireCancelled := func(t *testing.T, r *fsm.Run, msg string) {
		t.Helper()
		require.Equal(t, fsm.StatusCancelled, r.Status)
		require.Equal(t, msg, r.Error)
	}

	t.Run("DispatchedExactlyAtDue", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			const la = 100 * time.Millisecond
			b := setup(t, la, nil)
			b.h.create("s", every("1s"), nil)
			b.h.create("j", every("10s"), func(s *fsm.Schedule) { s.Policy.Jitter = fsm.Duration(5 * time.Second) })
			time.Sleep(3500 * time.Millisecond)
			synctest.Wait()
			var sIDs []string
			for _, d := range b.hd.dispatches() {
				r, _ := b.h.c.f.Run(d.msg.RunID)
				require.True(t, d.at.Equal(r.DueAt), "run %s sent at %v, due %v", r.ID, d.at, r.DueAt)
				require.Equal(t, la, r.DueAt.Sub(r.FiredAt), "run %s: decided one lookahead before its due time", r.ID)
				if d.msg.ScheduleID == "s" {
					sIDs = append(sIDs, d.msg.RunID)
					require.True(t, d.at.Equal(*d.msg.NominalAt))
				}
			}
			require.Equal(t, []string{fsm.RunID("s", b.t0.Add(time.Second)), fsm.RunID("s", b.t0.Add(2*time.Second)),
				fsm.RunID("s", b.t0.Add(3*time.Second))}, sIDs)
			for _, r := range b.h.runs("s") {
				require.Equal(t, fsm.StatusSucceeded, r.Status)
			}
			n, sum := histogram(t, b.reg, "sz_dispatch_fire_send_lateness_seconds")
			require.Equal(t, uint64(3), n)
			require.Zero(t, sum)
			n, sum = histogram(t, b.reg, "sz_dispatch_fire_commit_seconds")
			require.Equal(t, uint64(3), n)
			require.Zero(t, sum, "a commit that returned before the due time counts as 0")
		})
	})

	t.Run("CommitLatencyHidden", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			const n, spacing, commit, la = 200, 2 * time.Millisecond, 30 * time.Millisecond, 100 * time.Millisecond
			b := setup(t, la, nil)
			b.h.c.delay = commit // longer than the gap between fires, shorter than the lookahead
			for i := range n {
				start := b.t0.Add(time.Second + time.Duration(i)*spacing)
				b.h.create(fmt.Sprintf("s%03d", i), every("1h"), func(s *fsm.Schedule) { s.StartAt = &start })
			}
			time.Sleep(time.Second + n*spacing + 10*commit)
			synctest.Wait()
			ds := b.hd.dispatches()
			require.Len(t, ds, n)
			for _, d := range ds {
				require.True(t, d.at.Equal(*d.msg.NominalAt), "run %s sent %v after its nominal time", d.msg.RunID, d.at.Sub(*d.msg.NominalAt))
			}
			_, sum := histogram(t, b.reg, "sz_dispatch_fire_send_lateness_seconds")
			require.Zero(t, sum)
		})
	})

	t.Run("CommitLongerThanLookahead", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 100*time.Millisecond, nil)
			b.h.c.delay = 150 * time.Millisecond
			b.h.create("s", every("1h"), nil)
			time.Sleep(time.Hour + time.Second)
			synctest.Wait()
			ds := b.hd.dispatches()
			require.Len(t, ds, 1)
			require.Equal(t, 50*time.Millisecond, ds[0].at.Sub(*ds[0].msg.NominalAt), "sent from the commit callback, 150 ms − 100 ms late")
			n, sum := histogram(t, b.reg, "sz_dispatch_fire_send_lateness_seconds")
			require.Equal(t, uint64(1), n)
			require.InDelta(t, 0.05, sum, 1e-9)
		})
	})

	t.Run("PauseInWindowCancels", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(9700 * time.Millisecond) // decided at 9.5 s
			synctest.Wait()
			require.Equal(t, fsm.StatusFired, run(t, b, "s", 10*time.Second).Status)
			require.NoError(t, b.h.apply(fsm.Event{Type: fsm.SchedulePaused, ID: "s"}).Err)
			time.Sleep(5300 * time.Millisecond) // 15 s
			synctest.Wait()
			requireCancelled(t, run(t, b, "s", 10*time.Second), "schedule paused before its due time")
			require.Empty(t, b.hd.dispatches())
			require.NoError(t, b.h.apply(fsm.Event{Type: fsm.ScheduleResumed, ID: "s"}).Err)
			time.Sleep(5500 * time.Millisecond)
			synctest.Wait()
			require.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second}, b.h.nominals("s", b.t0))
			ds := b.hd.dispatches()
			require.Len(t, ds, 1)
			require.True(t, ds[0].at.Equal(b.t0.Add(20*time.Second)))
		})
	})

	t.Run("PauseAndResumeInWindowDispatches", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(9600 * time.Millisecond)
			require.NoError(t, b.h.apply(fsm.Event{Type: fsm.SchedulePaused, ID: "s"}).Err)
			time.Sleep(200 * time.Millisecond)
			require.NoError(t, b.h.apply(fsm.Event{Type: fsm.ScheduleResumed, ID: "s"}).Err)
			time.Sleep(time.Second)
			synctest.Wait()
			ds := b.hd.dispatches()
			require.Len(t, ds, 1, "10 s is still the schedule's next occurrence after the resume")
			require.True(t, ds[0].at.Equal(b.t0.Add(10*time.Second)))
		})
	})

	t.Run("DeleteInWindowSendsNothing", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(9700 * time.Millisecond)
			synctest.Wait()
			require.Len(t, b.h.runs("s"), 1)
			require.NoError(t, b.h.apply(fsm.Event{Type: fsm.ScheduleDeleted, ID: "s"}).Err)
			time.Sleep(15 * time.Second)
			synctest.Wait()
			require.Empty(t, b.h.runs("s"))
			require.Zero(t, b.h.l.countType(wire.TypeDispatch))
		})
	})

	t.Run("UpdateKeepingTriggerDispatchesOnceWithNewParams", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), func(s *fsm.Schedule) { s.Params = json.RawMessage(`{"v":1}`) })
			time.Sleep(9700 * time.Millisecond)
			update(t, b, "s", func(s *fsm.Schedule) { s.Params, s.Method = json.RawMessage(`{"v":2}`), "m2" })
			time.Sleep(10500 * time.Millisecond) // 20.2 s
			synctest.Wait()
			// The high-water mark had moved to 10 s before the update: 10 s
			// is neither lost nor decided twice.
			require.Equal(t, []time.Duration{10 * time.Second, 20 * time.Second}, b.h.nominals("s", b.t0))
			ds := b.hd.dispatches()
			require.Len(t, ds, 2)
			for i, d := range ds {
				require.True(t, d.at.Equal(b.t0.Add(time.Duration(i+1)*10*time.Second)), "dispatch %d at %v", i, d.at.Sub(b.t0))
				require.JSONEq(t, `{"v":2}`, string(d.msg.Params))
				require.Equal(t, "m2", d.msg.Method)
			}
			for _, r := range b.h.runs("s") {
				require.Equal(t, fsm.StatusSucceeded, r.Status)
			}
		})
	})

	t.Run("UpdateChangingTriggerCancels", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(9700 * time.Millisecond)
			update(t, b, "s", func(s *fsm.Schedule) { s.Trigger = every("7s") }) // anchored at creation: 14 s next
			time.Sleep(5 * time.Second)
			synctest.Wait()
			requireCancelled(t, run(t, b, "s", 10*time.Second), "schedule changed before its due time")
			require.Equal(t, []time.Duration{10 * time.Second, 14 * time.Second}, b.h.nominals("s", b.t0))
			ds := b.hd.dispatches()
			require.Len(t, ds, 1)
			require.True(t, ds[0].at.Equal(b.t0.Add(14*time.Second)))
		})
	})

	t.Run("UpdateEndAtBeforeNominalCancels", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(9700 * time.Millisecond)
			end := b.t0.Add(9800 * time.Millisecond)
			update(t, b, "s", func(s *fsm.Schedule) { s.EndAt = &end })
			time.Sleep(30 * time.Second)
			synctest.Wait()
			requireCancelled(t, run(t, b, "s", 10*time.Second), "schedule changed before its due time")
			require.Len(t, b.h.runs("s"), 1)
			require.Empty(t, b.hd.dispatches())
		})
	})

	t.Run("UpdateMaxRunsReachedCancels", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(19700 * time.Millisecond) // 10 s ran; 20 s decided at 19.5 s
			update(t, b, "s", func(s *fsm.Schedule) { s.MaxRuns = 1 })
			time.Sleep(20 * time.Second)
			synctest.Wait()
			require.Equal(t, fsm.StatusSucceeded, run(t, b, "s", 10*time.Second).Status)
			requireCancelled(t, run(t, b, "s", 20*time.Second), "schedule changed before its due time")
			require.Len(t, b.h.runs("s"), 2)
			require.Len(t, b.hd.dispatches(), 1)
		})
	})

	t.Run("ChangeBeforeDecisionNotRechecked", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(9 * time.Second)
			update(t, b, "s", func(s *fsm.Schedule) { s.Params = json.RawMessage(`{"v":3}`) })
			time.Sleep(1500 * time.Millisecond)
			synctest.Wait()
			ds := b.hd.dispatches()
			require.Len(t, ds, 1)
			require.True(t, ds[0].at.Equal(b.t0.Add(10*time.Second)))
			require.JSONEq(t, `{"v":3}`, string(ds[0].msg.Params))
		})
	})

	t.Run("OverlapDecidedAtDueTime", func(t *testing.T) {
		t.Parallel()
		const la = 100 * time.Millisecond
		for _, policy := range []string{fsm.OverlapSkip, fsm.OverlapBufferOne, fsm.OverlapCancelOther, fsm.OverlapAllow} {
			t.Run(policy, func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					b := setup(t, la, nil)
					b.hd.work = 1500 * time.Millisecond // 1 s runs until 2.5 s, overlapping the 2 s occurrence
					b.h.create("s", every("1s"), func(s *fsm.Schedule) { s.Policy.Overlap = policy })
					time.Sleep(3500 * time.Millisecond)
					synctest.Wait()
					first, second, third := run(t, b, "s", time.Second), run(t, b, "s", 2*time.Second), run(t, b, "s", 3*time.Second)
					require.Equal(t, la, first.NominalAt.Sub(first.FiredAt), "no active run: precommitted")
					if policy == fsm.OverlapAllow {
						require.Equal(t, la, second.NominalAt.Sub(second.FiredAt), "allow: precommitted despite the active run")
					} else {
						require.True(t, second.FiredAt.Equal(second.NominalAt), "an active run under %s: decided at the due time", policy)
					}
					switch policy {
					case fsm.OverlapCancelOther:
						requireCancelled(t, first, "overlap: cancel_other")
					case fsm.OverlapSkip:
						require.Equal(t, fsm.StatusSkipped, second.Status)
					}
					for _, d := range b.hd.dispatches() {
						require.False(t, d.at.Before(*d.msg.NominalAt), "run %s sent early", d.msg.RunID)
					}
					if policy == fsm.OverlapSkip {
						// The 1 s run finished at 2.5 s: 3 s had no active run at 2.9 s.
						require.Equal(t, la, third.NominalAt.Sub(third.FiredAt))
					}
				})
			})
		}
	})

	t.Run("CatchupThenEarlyOccurrenceDecidedAtDueTime", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.hd.work = time.Hour
			b.h.create("s", every("1s"), func(s *fsm.Schedule) { s.Policy.CatchupWindow = fsm.Duration(time.Hour) })
			time.Sleep(400 * time.Millisecond) // before 1 s is decided (at 0.5 s)
			b.h.c.setLeader(false)
			time.Sleep(2300 * time.Millisecond) // 1 s and 2 s fall due with no leader
			b.h.lead()                          // 2.7 s: 3 s is within the lookahead, behind the backlog
			b.hd.send(wire.Message{Type: wire.TypeHello, Name: b.hd.name, Instance: b.hd.instance, Capacity: b.hd.capacity})
			time.Sleep(800 * time.Millisecond)
			synctest.Wait()
			for _, off := range []time.Duration{time.Second, 2 * time.Second} {
				r := run(t, b, "s", off)
				require.Equal(t, fsm.TriggerCatchup, r.Trigger)
				require.Equal(t, fsm.StatusRunning, r.Status)
			}
			third := run(t, b, "s", 3*time.Second)
			require.True(t, third.FiredAt.Equal(third.NominalAt), "not decided with the backlog, whose runs it overlaps")
			require.Equal(t, fsm.StatusSkipped, third.Status)
		})
	})

	t.Run("FailoverAdoptedRunDispatchedAtDueOnce", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(9700 * time.Millisecond) // decided at 9.5 s by term 1
			synctest.Wait()
			require.Empty(t, b.hd.dispatches())
			b.h.c.setLeader(false)
			b.h.lead() // term 2 at 9.7 s adopts the run
			b.hd.send(wire.Message{Type: wire.TypeHello, Name: b.hd.name, Instance: b.hd.instance, Capacity: b.hd.capacity})
			time.Sleep(5 * time.Second)
			synctest.Wait()
			ds := b.hd.dispatches()
			require.Len(t, ds, 1)
			require.True(t, ds[0].at.Equal(b.t0.Add(10*time.Second)), "sent at %v", ds[0].at.Sub(b.t0))
			require.Equal(t, b.h.c.term.Load(), ds[0].msg.Term)
			require.Equal(t, fsm.StatusSucceeded, run(t, b, "s", 10*time.Second).Status)
		})
	})

	t.Run("FailoverHoldLongerThanDue", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			silent := b.h.l.addHandler("i2", 10, true) // registered, silent in term 2: the hold lasts 1.5 heartbeats
			synctest.Wait()
			b.h.create("s", every("10s"), nil)
			time.Sleep(9700 * time.Millisecond)
			synctest.Wait()
			silent.silent.Store(true)
			b.h.c.setLeader(false)
			gained := time.Now()
			b.h.lead()
			b.hd.send(wire.Message{Type: wire.TypeHello, Name: b.hd.name, Instance: b.hd.instance, Capacity: b.hd.capacity})
			time.Sleep(5 * time.Second)
			synctest.Wait()
			ds := b.hd.dispatches()
			require.Len(t, ds, 1)
			require.Empty(t, silent.dispatches())
			require.Equal(t, 1500*time.Millisecond, ds[0].at.Sub(gained), "after the hold, which ends after the due time")
		})
	})

	t.Run("LeadershipLostBeforeDue", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(9700 * time.Millisecond)
			synctest.Wait()
			require.Len(t, b.h.runs("s"), 1)
			oldTerm := b.h.c.term.Load()
			b.h.c.setLeader(false)
			time.Sleep(2300 * time.Millisecond) // 12 s: due while nobody leads
			synctest.Wait()
			require.Zero(t, b.h.l.countType(wire.TypeDispatch), "the deposed leader sends nothing")
			b.h.lead()
			b.hd.send(wire.Message{Type: wire.TypeHello, Name: b.hd.name, Instance: b.hd.instance, Capacity: b.hd.capacity})
			time.Sleep(3 * time.Second)
			synctest.Wait()
			ds := b.hd.dispatches()
			require.Len(t, ds, 1)
			require.Greater(t, ds[0].msg.Term, oldTerm)
			require.Equal(t, fsm.StatusSucceeded, run(t, b, "s", 10*time.Second).Status)
		})
	})

	t.Run("AdoptedRunPausedInWindowCancelled", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.h.create("s", every("10s"), nil)
			time.Sleep(9600 * time.Millisecond) // decided at 9.5 s by term 1
			synctest.Wait()
			b.h.c.setLeader(false)
			time.Sleep(100 * time.Millisecond)
			// Paused at 9.7 s under another leader; this node leads again at 12 s.
			require.NoError(t, b.h.apply(fsm.Event{Type: fsm.SchedulePaused, ID: "s"}).Err)
			time.Sleep(2300 * time.Millisecond)
			b.h.lead()
			b.hd.send(wire.Message{Type: wire.TypeHello, Name: b.hd.name, Instance: b.hd.instance, Capacity: b.hd.capacity})
			time.Sleep(3 * time.Second)
			synctest.Wait()
			requireCancelled(t, run(t, b, "s", 10*time.Second), "schedule paused before its due time")
			require.Empty(t, b.hd.dispatches())
		})
	})

	t.Run("AdoptedRunListedInHelloNotCancelled", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 500*time.Millisecond, nil)
			b.hd.accept = false // receives the 10 s dispatch; its acceptance never arrives
			b.h.create("s", every("10s"), nil)
			time.Sleep(10100 * time.Millisecond)
			synctest.Wait()
			require.Len(t, b.hd.dispatches(), 1)
			runID := fsm.RunID("s", b.t0.Add(10*time.Second))
			// A pause stamped before the due time but applied after this
			// leader's due-time check (a commit in flight at the due time).
			c := b.h.c
			c.mu.Lock()
			c.index++
			res := c.f.Apply(c.index, mustEncode([]fsm.Event{{Type: fsm.SchedulePaused, ID: "s", At: b.t0.Add(9900 * time.Millisecond)}}))
			c.mu.Unlock()
			require.NoError(t, res[0].Err)
			b.h.c.setLeader(false)
			b.h.lead()
			b.hd.accept = true
			b.hd.send(wire.Message{Type: wire.TypeHello, Name: b.hd.name, Instance: b.hd.instance, Capacity: b.hd.capacity, Running: []string{runID}})
			time.Sleep(3 * time.Second)
			synctest.Wait()
			r, _ := b.h.c.f.Run(runID)
			require.Equal(t, fsm.StatusSucceeded, r.Status, "the instance that has it reported it: not cancelled under it")
			require.Len(t, b.hd.dispatches(), 2, "re-sent to the same instance, same attempt")
			require.Equal(t, 1, b.hd.dispatches()[1].msg.Attempt)
		})
	})

	t.Run("ZeroKeepsDecisionAtDue", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setup(t, 0, nil)
			b.h.create("s", every("1s"), nil)
			time.Sleep(2500 * time.Millisecond)
			synctest.Wait()
			for _, r := range b.h.runs("s") {
				require.True(t, r.FiredAt.Equal(r.NominalAt))
			}
			require.Len(t, b.hd.dispatches(), 2)
		})
	})
}
