package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-node cluster test; skipped with -short")
	}
}

func followers(nodes []*testNode, leader *testNode) []*testNode {
	var out []*testNode
	for _, tn := range nodes {
		if tn != leader && tn.running() {
			out = append(out, tn)
		}
	}
	return out
}

// Tests 2 and 8: join, propose on the leader, ErrNotLeader with the leader's
// address on a follower, convergence, linearizable reads.
func TestCluster_JoinProposeRead(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 3)
	leader := waitLeader(t, nodes)
	ctx := ctxTimeout(t, 20*time.Second)

	// A follower answers Members from its own view, which converges.
	follower := followers(nodes, leader)[0]
	waitUntil(t, func() error {
		members, err := follower.node().Members(ctx)
		if err != nil {
			return err
		}
		var want []cluster.Member
		for i, tn := range nodes {
			want = append(want, cluster.Member{ID: tn.id, HTTPAddr: tn.httpAddr, RaftAddr: tn.raftAddr, ZMQAddr: "tcp://127.0.0.1:4242",
				Suffrage: cluster.SuffrageVoter, Leader: tn == leader})
			if i < len(members) && members[i].ID == follower.id {
				want[i].AppliedIndex = members[i].AppliedIndex
			}
		}
		if !reflect.DeepEqual(want, members) {
			return fmt.Errorf("members %+v, want %+v", members, want)
		}
		return nil
	})

	proposeCreates(t, nodes, "s", 20, 4)

	t.Run("ErrNotLeaderOnFollower", func(t *testing.T) {
		for _, f := range followers(nodes, leader) {
			_, err := f.node().Propose(ctx, createEvent("x"))
			require.ErrorIs(t, err, cluster.ErrNotLeader)
			require.Equal(t, cluster.LeaderInfo{ID: leader.id, HTTPAddr: leader.httpAddr}, f.node().Leader())
			require.ErrorIs(t, f.node().LinearizableRead(ctx), cluster.ErrNotLeader)
			require.ErrorIs(t, f.node().WriteSnapshot(ctx, &bytes.Buffer{}), cluster.ErrNotLeader)
			require.ErrorIs(t, f.node().AddMember(ctx, cluster.JoinRequest{ID: "z", RaftAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2"}), cluster.ErrNotLeader)
			s := f.node().Self()
			require.Equal(t, leader.httpAddr, s.LeaderHTTP)
			require.True(t, s.Member)
		}
	})

	t.Run("Converged", func(t *testing.T) {
		waitConverged(t, nodes)
		for _, tn := range nodes {
			require.Equal(t, 20, tn.node().FSM().Count(), tn.id)
			require.True(t, tn.node().Ready(), tn.id)
		}
	})

	t.Run("LinearizableRead", func(t *testing.T) {
		for i := range 10 {
			id := fmt.Sprintf("lin-%d", i)
			_, err := leader.node().Propose(ctx, createEvent(id))
			require.NoError(t, err)
			require.NoError(t, leader.node().LinearizableRead(ctx))
			_, ok := leader.node().FSM().Get(id)
			require.True(t, ok)
		}
	})

	t.Run("JoinIsIdempotent", func(t *testing.T) {
		f := followers(nodes, leader)[0]
		require.NoError(t, f.node().JoinCluster(ctx, leader.httpAddr))
		require.NoError(t, leader.node().AddMember(ctx, cluster.JoinRequest{ID: f.id, RaftAddr: f.raftAddr, HTTPAddr: f.httpAddr, ZMQAddr: "tcp://127.0.0.1:4242"}))
		members, err := leader.node().Members(ctx)
		require.NoError(t, err)
		require.Len(t, members, 3)
	})

	t.Run("TransferLeadership", func(t *testing.T) {
		target := followers(nodes, leader)[0]
		require.ErrorIs(t, leader.node().TransferLeadership(ctx, "nope"), cluster.ErrUnknownMember)
		require.NoError(t, leader.node().TransferLeadership(ctx, target.id))
		require.Equal(t, target, waitLeader(t, nodes))
		leader = target
		_, err := leader.node().Propose(ctx, createEvent("after-transfer"))
		require.NoError(t, err)
		waitConverged(t, nodes)
	})
}

// Test 3: the leader crashes, a new one takes over, writes continue, the old
// node restarts from its data dir and catches up.
func TestCluster_LeaderCrash(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 3)
	old := waitLeader(t, nodes)
	proposeCreates(t, nodes, "before", 10, 2)
	oldTerm := old.node().Self().Term
	old.crash()

	leader := waitLeader(t, nodes)
	require.NotEqual(t, old, leader)
	require.Greater(t, leader.node().Self().Term, oldTerm)
	proposeCreates(t, nodes, "after", 10, 2)

	old.start(false)
	waitConverged(t, nodes)
	for _, tn := range nodes {
		require.Equal(t, 20, tn.node().FSM().Count(), tn.id)
	}
	_, ok := old.node().FSM().Get("after-9")
	require.True(t, ok)
}

// Test 4: a graceful Stop of the leader hands leadership over at once and
// loses no acknowledged write.
func TestCluster_GracefulStopTransfers(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 3)
	old := waitLeader(t, nodes)
	changes := old.node().LeadershipChanges()
	proposeCreates(t, nodes, "s", 30, 4)

	stopped := time.Now()
	old.stop()
	require.False(t, recv(t, changes), "the old leader reports the loss")
	// A transfer elects the target immediately; a crash would leave the
	// followers waiting for at least one heartbeat timeout (150 ms) first.
	var leader *testNode
	require.Eventually(t, func() bool {
		for _, tn := range followers(nodes, old) {
			if tn.node().IsLeader() {
				leader = tn
				return true
			}
		}
		return false
	}, time.Second, time.Millisecond)
	t.Logf("new leader %s %v after Stop returned", leader.id, time.Since(stopped))
	require.Equal(t, leader, waitLeader(t, nodes))
	require.True(t, recv(t, leader.node().LeadershipChanges()))
	require.NoError(t, leader.node().LinearizableRead(ctxTimeout(t, 5*time.Second)))
	require.Equal(t, 30, leader.node().FSM().Count())
}

// Test 5: a follower leaves; a dead member is removed; both records vanish.
func TestCluster_LeaveAndRemove(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 4)
	leader := waitLeader(t, nodes)
	fs := followers(nodes, leader)
	leaving, dead := fs[0], fs[1]
	ctx := ctxTimeout(t, 20*time.Second)

	require.NoError(t, leaving.node().Leave(ctx))
	requireMembers(t, leader, 3, leaving.id)
	waitUntil(t, func() error {
		for _, tn := range nodes {
			if _, ok := tn.node().FSM().Node(leaving.id); ok && tn != leaving {
				return fmt.Errorf("%s still has the record of %s", tn.id, leaving.id)
			}
		}
		return nil
	})
	require.True(t, leaving.running(), "a node that left keeps running")

	dead.crash()
	require.ErrorIs(t, leader.node().RemoveMember(ctx, "nope"), cluster.ErrUnknownMember)
	require.NoError(t, leader.node().RemoveMember(ctx, dead.id))
	requireMembers(t, leader, 2, dead.id)
	_, ok := leader.node().FSM().Node(dead.id)
	require.False(t, ok)

	_, err := leader.node().Propose(ctx, createEvent("still-writable"))
	require.NoError(t, err)
	remaining := []*testNode{leader, fs[2]}
	waitConverged(t, remaining)

	// The leader leaves too: it removes its record and itself, and the last
	// voter carries on alone.
	require.NoError(t, leader.node().Leave(ctx))
	last := waitLeader(t, []*testNode{fs[2]})
	requireMembers(t, last, 1, leader.id)
	_, ok = last.node().FSM().Node(leader.id)
	require.False(t, ok)
	require.False(t, leader.node().Self().Member)
	require.ErrorIs(t, last.node().Leave(ctx), cluster.ErrInvalidRequest, "the last voter cannot leave")
}

// Test 2, non-voter phase: a node whose status cannot be checked stays a
// non-voter; AddMember gives up with ErrTimeout and the background loop
// promotes it once it answers.
func TestCluster_PromotionWaitsForCatchUp(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 1)
	joiner := newTestNode(t, "n2")
	nodes = append(nodes, joiner)
	joiner.hideSelf.Store(true)
	joiner.start(false)

	req := cluster.JoinRequest{ID: "n2", RaftAddr: joiner.raftAddr, HTTPAddr: joiner.httpAddr}
	err := nodes[0].node().AddMember(ctxTimeout(t, time.Second), req)
	require.ErrorIs(t, err, cluster.ErrTimeout)
	members, err := nodes[0].node().Members(context.Background())
	require.NoError(t, err)
	require.Len(t, members, 2)
	require.Equal(t, cluster.SuffrageNonvoter, members[1].Suffrage)
	require.True(t, joiner.node().Self().Member, "a non-voter is a member")

	joiner.hideSelf.Store(false)
	waitVoters(t, nodes, 2)
	waitConverged(t, nodes)
}

func requireMembers(t *testing.T, leader *testNode, want int, absent string) {
	t.Helper()
	members, err := leader.node().Members(context.Background())
	require.NoError(t, err)
	require.Len(t, members, want)
	for _, m := range members {
		require.NotEqual(t, absent, m.ID)
	}
}

// Test 6: a follower that missed more than TrailingLogs entries catches up
// through InstallSnapshot.
func TestCluster_LaggingFollowerInstallsSnapshot(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 3, func(c *cluster.Config) {
		c.SnapshotThreshold = 64
		c.TrailingLogs = 16
		c.SnapshotInterval = time.Second
	})
	lagging := followers(nodes, waitLeader(t, nodes))[0]
	stoppedAt := lagging.node().Self().LastIndex
	require.NotZero(t, stoppedAt)
	lagging.stop()

	proposeCreates(t, nodes, "s", 300, 8)
	for _, tn := range followers(nodes, lagging) { // whichever of them leads now
		require.NoError(t, tn.node().ForceSnapshot())
		require.Greater(t, tn.node().LastSnapshotIndex(), stoppedAt+16, "%s compacted the entries the follower misses", tn.id)
	}

	n := lagging.start(false)
	require.Zero(t, n.FSMRestores(), "the follower had no snapshot of its own")
	waitConverged(t, nodes)
	require.Equal(t, 300, n.FSM().Count())
	require.GreaterOrEqual(t, n.FSMRestores(), uint64(1), "the follower restored the leader's snapshot")
	require.Greater(t, n.LastSnapshotIndex(), stoppedAt+16)
	require.GreaterOrEqual(t, metricValue(t, lagging, "sz_raft_snapshot_installs_total"), 1.0)
	require.GreaterOrEqual(t, metricValue(t, lagging, "sz_raft_restore_seconds"), 1.0)
	for _, tn := range followers(nodes, lagging) {
		require.GreaterOrEqual(t, metricValue(t, tn, "sz_raft_snapshot_persist_seconds"), 1.0, tn.id)
		require.Zero(t, metricValue(t, tn, "sz_raft_snapshot_installs_total"), tn.id)
	}
}

// metricValue returns the value of an unlabelled counter or gauge, or the
// sample count of a histogram, registered by tn's current node (0 if
// absent).
func metricValue(t testing.TB, tn *testNode, name string) float64 {
	t.Helper()
	mfs, err := tn.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// Test 7: concurrent proposals share log entries and get their own results.
func TestCluster_Batching(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 3)
	leader := waitLeader(t, nodes)
	entries0, events0 := batchHistogram(t, leader)

	const callers = 64
	ctx := ctxTimeout(t, 20*time.Second)
	results := make([][]fsm.Result, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = leader.node().Propose(ctx, createEvent(fmt.Sprintf("b-%d", i)), createEvent(fmt.Sprintf("b-%d", i)))
		})
	}
	close(start)
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Len(t, results[i], 2)
		require.NoError(t, results[i][0].Err)
		require.Equal(t, fmt.Sprintf("b-%d", i), results[i][0].Schedule.ID)
		require.ErrorIs(t, results[i][1].Err, fsm.ErrExists, "the second event of a call sees the first")
		require.Equal(t, results[i][0].Index, results[i][1].Index)
	}
	entries, events := batchHistogram(t, leader)
	t.Logf("%d events in %d entries", events-events0, entries-entries0)
	require.Equal(t, uint64(2*callers), events-events0)
	require.Less(t, entries-entries0, uint64(callers), "calls were batched")
	waitConverged(t, nodes)
}

// batchHistogram returns the sample count (entries) and sum (events) of
// sz_raft_batch_events on tn.
func batchHistogram(t testing.TB, tn *testNode) (entries, events uint64) {
	t.Helper()
	mfs, err := tn.reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		if mf.GetName() == "sz_raft_batch_events" {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), uint64(h.GetSampleSum())
		}
	}
	for _, want := range []string{"sz_raft_state", "sz_raft_term", "sz_raft_commit_index", "sz_raft_applied_index",
		"sz_raft_last_index", "sz_raft_last_contact_seconds", "sz_raft_is_leader", "sz_cluster_members", "sz_schedules"} {
		require.Contains(t, names, want)
	}
	return 0, 0
}

// Test 9: WriteSnapshot then RestoreSnapshot brings every node back to the
// snapshot's state.
func TestCluster_SnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 3)
	leader := waitLeader(t, nodes)
	ctx := ctxTimeout(t, 20*time.Second)
	proposeCreates(t, nodes, "keep", 10, 2)

	var buf bytes.Buffer
	require.NoError(t, leader.node().WriteSnapshot(ctx, &buf))
	want := leader.node().Self().Digest

	proposeCreates(t, nodes, "later", 10, 2)
	res, err := leader.node().Propose(ctx, fsm.Event{Type: fsm.ScheduleDeleted, ID: "keep-3"})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.NotEqual(t, want, leader.node().Self().Digest)

	require.ErrorIs(t, leader.node().RestoreSnapshot(ctx, bytes.NewReader([]byte("garbage"))), cluster.ErrInvalidRequest)
	require.NoError(t, leader.node().RestoreSnapshot(ctx, bytes.NewReader(buf.Bytes())))
	waitConverged(t, nodes)
	for _, tn := range nodes {
		s := tn.node().Self()
		require.Equal(t, want, s.Digest, tn.id)
		require.Equal(t, 10, s.Schedules, tn.id)
		_, ok := tn.node().FSM().Get("keep-3")
		require.True(t, ok, tn.id)
	}
	require.NoError(t, leader.node().LinearizableRead(ctx))
	_, err = leader.node().Propose(ctx, createEvent("after-restore"))
	require.NoError(t, err)
	waitConverged(t, nodes)
}

func TestNode_BenchCommits(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 3)
	ctx := ctxTimeout(t, 30*time.Second)
	digest := waitLeader(t, nodes).node().Self().Digest

	t.Run("OK", func(t *testing.T) {
		// Retried like a client would if leadership moves meanwhile (the
		// test profile's 100 ms lease can lapse on a loaded box).
		var res cluster.CommitBench
		var leader *testNode
		waitUntil(t, func() (err error) {
			leader = waitLeader(t, nodes)
			res, err = leader.node().BenchCommits(ctx, 200, 8, 512)
			return err
		})
		require.Equal(t, 200, res.Commits)
		require.Equal(t, 8, res.Concurrency)
		require.Equal(t, 512, res.PayloadBytes)
		require.Positive(t, res.PerSec)
		require.Positive(t, res.P50)
		require.GreaterOrEqual(t, res.P99, res.P50)
		require.GreaterOrEqual(t, res.Elapsed, res.P99)
		waitConverged(t, nodes)
		require.Equal(t, digest, leader.node().Self().Digest, "noop entries leave the state alone")
	})
	t.Run("ErrInvalidRequest", func(t *testing.T) {
		for _, args := range [][3]int{{0, 1, 0}, {cluster.MaxBenchCommits + 1, 1, 0}, {1, 0, 0},
			{1, cluster.MaxBenchConcurrency + 1, 0}, {1, 1, -1}, {1, 1, cluster.MaxBenchPayload + 1},
			{cluster.MaxBenchCommits, 1, cluster.MaxBenchPayload}} {
			_, err := nodes[0].node().BenchCommits(ctx, args[0], args[1], args[2])
			require.ErrorIs(t, err, cluster.ErrInvalidRequest, "%v", args)
		}
	})
	t.Run("ErrNotLeader", func(t *testing.T) {
		waitUntil(t, func() error {
			leader := waitLeader(t, nodes)
			_, err := followers(nodes, leader)[0].node().BenchCommits(ctx, 10, 1, 0)
			if !errors.Is(err, cluster.ErrNotLeader) {
				return fmt.Errorf("follower answered %v", err)
			}
			return nil
		})
	})
	t.Run("ErrTimeout", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := nodes[0].node().BenchCommits(cctx, 10, 1, 0)
		require.ErrorIs(t, err, cluster.ErrTimeout)
	})
}
