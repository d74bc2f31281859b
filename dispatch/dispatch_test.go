package dispatch_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/schedulezero/schedulezero/dispatch"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
	"github.com/schedulezero/schedulezero/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDispatcher_FiresOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		hd := h.l.addHandler("i1", 4, true)
		t0 := time.Now()
		h.create("s", every("1s"), nil)
		h.create("c", trigger.Spec{Cron: "*/2 * * * * *"}, nil)
		time.Sleep(4*time.Second + 500*time.Millisecond)
		synctest.Wait()
		ds := hd.dispatches()
		var sIDs []string
		for _, d := range ds {
			require.NotZero(t, d.msg.Term)
			require.True(t, d.at.Equal(*d.msg.NominalAt), "dispatched at %v for %v", d.at, d.msg.NominalAt)
			if d.msg.ScheduleID == "s" {
				sIDs = append(sIDs, d.msg.RunID)
			}
		}
		require.Equal(t, []string{fsm.RunID("s", t0.Add(time.Second)), fsm.RunID("s", t0.Add(2*time.Second)),
			fsm.RunID("s", t0.Add(3*time.Second)), fsm.RunID("s", t0.Add(4*time.Second))}, sIDs)
		require.Len(t, ds, 6) // cron every 2 s from 00:00:00: :02 and :04
		for _, r := range h.runs("s") {
			require.Equal(t, fsm.StatusSucceeded, r.Status)
			require.Equal(t, "i1", r.HandlerInstance)
		}
		require.NotEmpty(t, h.l.sentTo(hd.peer, wire.TypeWelcome))
		require.Len(t, h.l.sentTo(hd.peer, wire.TypeResultAck), 6)
	})
}

func TestDispatcher_SimultaneousFiresOneProposal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		for _, id := range []string{"a", "b", "c"} {
			h.create(id, every("1s"), nil)
		}
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		ps := h.c.proposalsWith(fsm.RunFired)
		require.Len(t, ps, 1)
		require.Len(t, ps[0], 3)
	})
}

func TestDispatcher_CommitBeforeSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		hd := h.l.addHandler("i1", 4, true)
		synctest.Wait()
		h.c.setFail(errBoom)
		h.create("s", every("1s"), nil)
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		require.Empty(t, hd.dispatches(), "nothing may be sent before the decision is committed")
		h.c.setFail(nil)
		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		// The uncommitted occurrences are decided once the cluster heals.
		require.Len(t, hd.dispatches(), 2)
	})
}

func TestDispatcher_CatchupAfterLeadershipGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		hd := h.l.addHandler("i1", 100, true)
		t0 := time.Now()
		h.create("s", every("1s"), func(s *fsm.Schedule) {
			s.Policy.CatchupWindow = fsm.Duration(5 * time.Second)
			s.Policy.Overlap = fsm.OverlapAllow
		})
		time.Sleep(2500 * time.Millisecond) // fires 1, 2
		h.c.setLeader(false)
		time.Sleep(10 * time.Second) // 3..12 fall due without a leader
		h.lead()
		time.Sleep(100 * time.Millisecond)
		h.c.setLeader(false) // flip twice: nothing doubled
		h.lead()
		time.Sleep(1500 * time.Millisecond) // 13 and 14 on time
		synctest.Wait()
		runs := h.runs("s")
		require.Len(t, runs, 14)
		for i, r := range runs {
			n := i + 1
			require.True(t, r.NominalAt.Equal(t0.Add(time.Duration(n)*time.Second)))
			switch {
			case n <= 2 || n >= 13:
				require.Equal(t, fsm.TriggerScheduled, r.Trigger, n)
				require.Equal(t, fsm.StatusSucceeded, r.Status, n)
			case n < 8: // now=12.5 s: nominal older than 5 s
				require.Equal(t, fsm.StatusMissed, r.Status, n)
			default:
				require.Equal(t, fsm.TriggerCatchup, r.Trigger, n)
				require.Equal(t, fsm.StatusSucceeded, r.Status, n)
			}
		}
		seen := map[string]int{}
		for _, d := range hd.dispatches() {
			seen[d.msg.RunID]++
		}
		require.Len(t, seen, 9)
	})
}

func TestDispatcher_StaleResultIgnoredAndAcked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		hd := h.l.addHandler("i1", 4, false)
		h.create("s", every("1m"), nil)
		time.Sleep(time.Minute + 100*time.Millisecond)
		synctest.Wait()
		ds := hd.dispatches()
		require.Len(t, ds, 1)
		id := ds[0].msg.RunID
		hd.send(wire.Message{Type: wire.TypeResult, RunID: id, Attempt: 7, OK: true})
		synctest.Wait()
		r, _ := h.c.f.Run(id)
		require.Equal(t, fsm.StatusFired, r.Status)
		acks := h.l.sentTo(hd.peer, wire.TypeResultAck)
		require.Len(t, acks, 1)
		require.Equal(t, 7, acks[0].Attempt)
		require.Equal(t, h.c.term.Load(), ds[0].msg.Term)
	})
}

func TestDispatcher_RetryWithBackoffThenFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		hd := h.l.addHandler("i1", 4, true)
		hd.fail = true
		h.create("s", every("1h"), func(s *fsm.Schedule) { s.Policy.MaxRetries = 2 })
		time.Sleep(time.Hour + 10*time.Second)
		synctest.Wait()
		ds := hd.dispatches()
		require.Len(t, ds, 3)
		require.Equal(t, time.Second, ds[1].at.Sub(ds[0].at))   // backoff 1 s
		require.Equal(t, 2*time.Second, ds[2].at.Sub(ds[1].at)) // then 2 s
		r := h.runs("s")[0]
		require.Equal(t, fsm.StatusFailed, r.Status)
		require.Equal(t, 3, r.Attempt)
	})
}

func TestDispatcher_HandlerLostRetriedOnAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		a := h.l.addHandler("a", 4, true)
		a.work = time.Hour
		h.create("s", every("1h"), nil)
		time.Sleep(time.Hour + 100*time.Millisecond)
		synctest.Wait()
		require.Len(t, a.dispatches(), 1)
		b := h.l.addHandler("b", 4, true)
		a.silent.Store(true)
		time.Sleep(6 * time.Second)
		synctest.Wait()
		require.Len(t, b.dispatches(), 1)
		require.Equal(t, 2, b.dispatches()[0].msg.Attempt)
		r := h.runs("s")[0]
		require.Equal(t, fsm.StatusSucceeded, r.Status)
		require.Equal(t, "b", r.HandlerInstance)
		var lost bool
		for _, hs := range h.d.Handlers() {
			lost = lost || (hs.Instance == "a" && hs.State == "lost")
		}
		require.True(t, lost)
	})
}

func TestDispatcher_CreditBoundsStalledHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		stalled := h.l.addHandler("a", 2, false) // heartbeats, never accepts
		good := h.l.addHandler("b", 100, true)
		synctest.Wait()
		for _, id := range []string{"s1", "s2", "s3"} {
			h.create(id, every("1s"), func(s *fsm.Schedule) { s.Policy.Overlap = fsm.OverlapAllow })
		}
		time.Sleep(20*time.Second + 500*time.Millisecond)
		synctest.Wait()
		distinct := map[string]bool{}
		for _, d := range stalled.dispatches() {
			distinct[d.msg.RunID] = true
		}
		require.LessOrEqual(t, len(distinct), 2)
		onTime := 0
		for _, d := range good.dispatches() {
			if d.at.Equal(*d.msg.NominalAt) {
				onTime++
			}
		}
		require.GreaterOrEqual(t, onTime, 60-2)
		for _, id := range []string{"s1", "s2", "s3"} {
			for _, r := range h.runs(id) {
				require.Equal(t, fsm.StatusSucceeded, r.Status, r.ID)
			}
		}
	})
}

func TestDispatcher_Overlap(t *testing.T) {
	cases := map[string]func(t *testing.T, runs []*fsm.Run){
		fsm.OverlapSkip: func(t *testing.T, runs []*fsm.Run) {
			require.Equal(t, fsm.StatusRunning, runs[0].Status)
			for _, r := range runs[1:] {
				require.Equal(t, fsm.StatusSkipped, r.Status)
			}
		},
		fsm.OverlapAllow: func(t *testing.T, runs []*fsm.Run) {
			for _, r := range runs {
				require.Equal(t, fsm.StatusRunning, r.Status)
			}
		},
		fsm.OverlapBufferOne: func(t *testing.T, runs []*fsm.Run) {
			require.Equal(t, fsm.StatusRunning, runs[0].Status)
			require.Equal(t, fsm.StatusFired, runs[1].Status)
			for _, r := range runs[2:] {
				require.Equal(t, fsm.StatusSkipped, r.Status)
			}
		},
		fsm.OverlapCancelOther: func(t *testing.T, runs []*fsm.Run) {
			for _, r := range runs[:len(runs)-1] {
				require.Equal(t, fsm.StatusCancelled, r.Status)
			}
			require.Equal(t, fsm.StatusRunning, runs[len(runs)-1].Status)
		},
	}
	for policy, check := range cases {
		t.Run(policy, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, nil)
				h.lead()
				hd := h.l.addHandler("i1", 10, true)
				hd.work = time.Hour
				h.create("s", every("1s"), func(s *fsm.Schedule) { s.Policy.Overlap = policy })
				time.Sleep(3500 * time.Millisecond)
				synctest.Wait()
				runs := h.runs("s")
				require.Len(t, runs, 3)
				check(t, runs)
				if policy == fsm.OverlapCancelOther {
					require.Len(t, h.l.sentTo(hd.peer, wire.TypeCancel), 2)
				}
			})
		})
	}
}

func TestDispatcher_BufferOneRunsAfterActiveFinishes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		hd := h.l.addHandler("i1", 10, true)
		hd.work = 1500 * time.Millisecond
		h.create("s", every("1s"), func(s *fsm.Schedule) { s.Policy.Overlap = fsm.OverlapBufferOne })
		time.Sleep(2600 * time.Millisecond) // run1 at 1s (ends 2.5s), run2 at 2s buffered until 2.5 s
		synctest.Wait()
		ds := hd.dispatches()
		require.Len(t, ds, 2)
		require.Equal(t, 1500*time.Millisecond, ds[1].at.Sub(ds[0].at))
	})
}

func TestDispatcher_PauseResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		h.l.addHandler("i1", 10, true)
		t0 := time.Now()
		h.create("s", every("1s"), nil)
		time.Sleep(1500 * time.Millisecond)
		require.NoError(t, h.apply(fsm.Event{Type: fsm.SchedulePaused, ID: "s"}).Err)
		time.Sleep(5 * time.Second)
		require.NoError(t, h.apply(fsm.Event{Type: fsm.ScheduleResumed, ID: "s"}).Err) // at 6.5 s
		time.Sleep(2 * time.Second)
		synctest.Wait()
		var got []time.Duration
		for _, r := range h.runs("s") {
			got = append(got, r.NominalAt.Sub(t0))
		}
		require.Equal(t, []time.Duration{time.Second, 7 * time.Second, 8 * time.Second}, got)
	})
}

func TestDispatcher_StartEndMaxRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		h.l.addHandler("i1", 10, true)
		t0 := time.Now()
		start, end := t0.Add(3*time.Second), t0.Add(6*time.Second)
		h.create("window", every("1s"), func(s *fsm.Schedule) { s.StartAt, s.EndAt = &start, &end })
		h.create("max", every("1s"), func(s *fsm.Schedule) { s.MaxRuns = 2 })
		time.Sleep(10 * time.Second)
		synctest.Wait()
		var got []time.Duration
		for _, r := range h.runs("window") {
			got = append(got, r.NominalAt.Sub(t0))
		}
		require.Equal(t, []time.Duration{3 * time.Second, 4 * time.Second, 5 * time.Second, 6 * time.Second}, got)
		require.Len(t, h.runs("max"), 2)
	})
}

func TestDispatcher_JitterDeterministic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		hd := h.l.addHandler("i1", 10, true)
		h.create("s", every("10s"), func(s *fsm.Schedule) { s.Policy.Jitter = fsm.Duration(time.Hour) })
		time.Sleep(100 * time.Second)
		synctest.Wait()
		runs := h.runs("s")
		require.GreaterOrEqual(t, len(runs), 8)
		distinct := map[time.Duration]bool{}
		for _, r := range runs {
			j := r.DueAt.Sub(r.NominalAt)
			require.True(t, j >= 0 && j < 10*time.Second, j)
			distinct[j] = true
		}
		require.Greater(t, len(distinct), 1)
		for _, d := range hd.dispatches() {
			r, _ := h.c.f.Run(d.msg.RunID)
			require.True(t, d.at.Equal(r.DueAt))
		}
	})
}

func TestDispatcher_TriggerIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		_, err := h.d.Trigger(context.Background(), "s", "r1")
		require.ErrorIs(t, err, dispatch.ErrNotLeader)
		h.lead()
		hd := h.l.addHandler("i1", 10, true)
		h.create("s", every("1h"), func(s *fsm.Schedule) { s.Paused = true })
		synctest.Wait()
		r1, err := h.d.Trigger(context.Background(), "s", "r1")
		require.NoError(t, err)
		r2, err := h.d.Trigger(context.Background(), "s", "r1")
		require.NoError(t, err)
		require.Equal(t, r1.ID, r2.ID)
		require.Equal(t, fsm.TriggerManual, r1.Trigger)
		_, err = h.d.Trigger(context.Background(), "nope", "")
		require.ErrorIs(t, err, dispatch.ErrNotFound)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		require.Len(t, hd.dispatches(), 1)
		r, _ := h.c.f.Run(r1.ID)
		require.Equal(t, fsm.StatusSucceeded, r.Status)
	})
}

func TestDispatcher_FollowerRedirects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		hd := h.l.addHandler("i1", 1, true)
		synctest.Wait()
		rs := h.l.sentTo(hd.peer, wire.TypeRedirect)
		require.Len(t, rs, 1)
		require.Equal(t, "n2", rs[0].LeaderID)
		require.Empty(t, h.l.sentTo(hd.peer, wire.TypeWelcome))
	})
}

func TestDispatcher_LeadershipLossStopsSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		h.l.addHandler("i1", 10, true)
		h.create("s", every("1s"), nil)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		h.c.setLeader(false)
		synctest.Wait()
		n := h.l.countType(wire.TypeDispatch) + h.l.countType(wire.TypeHeartbeat)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.Equal(t, n, h.l.countType(wire.TypeDispatch)+h.l.countType(wire.TypeHeartbeat))
		require.Empty(t, h.d.Handlers())
	})
}

// TestDispatcher_FailoverReturnsRunToItsInstance: a run dispatched by the
// previous leader whose acceptance was never committed is sent by the new
// leader to the instance that reports it in its hello (wire Running), not
// to whichever handler says hello first — which would execute it twice.
func TestDispatcher_FailoverReturnsRunToItsInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		h.lead()
		h.l.addHandler("a", 10, false) // receives the dispatch, its accepted never arrives
		h.create("s", every("10s"), nil)
		time.Sleep(10500 * time.Millisecond)
		synctest.Wait()
		runs := h.runs("s")
		require.Len(t, runs, 1)
		runID := runs[0].ID

		h.c.setLeader(false)
		h.lead()
		b := h.l.addHandler("b", 10, true) // first to say hello to the new leader
		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		a := h.l.addHandler("a", 10, true)
		a.send(wire.Message{Type: wire.TypeHello, Name: "h", Instance: "a", Capacity: 10, Running: []string{runID}})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		for _, d := range b.dispatches() {
			require.NotEqual(t, runID, d.msg.RunID, "the interrupted run went to a second instance")
		}
		require.NotEmpty(t, a.dispatches())
		require.Equal(t, runID, a.dispatches()[0].msg.RunID)
		r, _ := h.c.f.Run(runID)
		require.Equal(t, fsm.StatusSucceeded, r.Status)
	})
}
