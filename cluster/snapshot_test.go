package cluster_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

var (
	snapshotScale = flag.Int("snapshot.scale", 0,
		"TestSnapshot_Scale: schedules to bulk-load (0 skips it; 1000000 for the DESIGN.md figures)")
	snapshotNodes = flag.Int("snapshot.nodes", 3,
		"TestSnapshot_Scale: 3 (follower catch-up by InstallSnapshot) or 1 (snapshot and start-up restore of one node, one FSM in the heap)")
)

// proposeBulk creates total schedules prefix-0 … through whichever of
// nodes leads, perCall creates per Propose (one log entry each), from
// workers goroutines. A call whose outcome was unknown is retried; its
// creates may then report ErrExists.
func proposeBulk(t testing.TB, nodes []*testNode, prefix string, total, perCall, workers int) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				from := int(next.Add(int64(perCall))) - perCall
				if from >= total {
					return
				}
				var evs []fsm.Event
				for i := from; i < min(from+perCall, total); i++ {
					evs = append(evs, createEvent(fmt.Sprintf("%s-%d", prefix, i)))
				}
				if err := proposeAll(t, nodes, evs); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// proposeAll commits evs in one Propose through the current leader,
// retrying when leadership moves.
func proposeAll(t testing.TB, nodes []*testNode, evs []fsm.Event) error {
	deadline := time.Now().Add(time.Minute)
	ambiguous := false
	for {
		var err error
		if l, lerr := findLeader(nodes); lerr == nil {
			var res []fsm.Result
			res, err = l.node().Propose(context.Background(), evs...)
			if err == nil {
				for _, r := range res {
					if r.Err != nil && !(ambiguous && errors.Is(r.Err, fsm.ErrExists)) {
						return r.Err
					}
				}
				return nil
			}
			if !errors.Is(err, cluster.ErrTimeout) && !errors.Is(err, cluster.ErrNotLeader) && !errors.Is(err, cluster.ErrNoLeader) {
				return err
			}
			ambiguous = ambiguous || errors.Is(err, cluster.ErrTimeout)
			t.Logf("retrying a bulk proposal: %v", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no leader committed the proposal: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Test 6b: with the default entry counts, the byte budgets alone make the
// nodes snapshot and truncate their logs during a bulk load, so a follower
// that was down throughout catches up by InstallSnapshot.
func TestCluster_ByteBudgetCompaction(t *testing.T) {
	t.Parallel()
	skipShort(t)
	nodes := startCluster(t, 3, func(c *cluster.Config) {
		c.SnapshotLogBytes = 256 << 10
		c.TrailingLogBytes = 32 << 10
	})
	leader := waitLeader(t, nodes)
	lagging := followers(nodes, leader)[0]
	stoppedAt := lagging.node().Self().LastIndex
	lagging.stop()

	// 120 entries of 50 schedules (~15 KB each): ~1.8 MB of log, far below
	// SnapshotThreshold (8192 entries) and TrailingLogs (10240).
	proposeBulk(t, nodes, "bulk", 6000, 50, 4)
	for _, tn := range followers(nodes, lagging) {
		waitUntil(t, func() error {
			if first := tn.node().FirstLogIndex(); first <= stoppedAt+1 {
				return fmt.Errorf("%s: log starts at %d, trailing logs %d", tn.id, first, tn.node().TrailingLogs())
			}
			return nil
		})
		require.Equal(t, uint64(32), tn.node().TrailingLogs(), "%s: the minimum, since 32 KiB holds fewer entries", tn.id)
	}

	n := lagging.start(false)
	waitConverged(t, nodes)
	require.Equal(t, 6000, n.FSM().Count())
	require.GreaterOrEqual(t, metricValue(t, lagging, "sz_raft_snapshot_installs_total"), 1.0)
}

// TestSnapshot_Scale measures the snapshot paths at scale with the default
// configuration: bulk-load -snapshot.scale schedules in entries of 1000
// while one follower is down, take a snapshot on the leader, restart the
// follower and time its catch-up (InstallSnapshot), then restart another
// node to time a start-up restore. Run it with
//
//	go test ./cluster -run TestSnapshot_Scale -snapshot.scale=1000000 -v -timeout 30m
func TestSnapshot_Scale(t *testing.T) {
	if *snapshotScale <= 0 {
		t.Skip("measurement; enable with -snapshot.scale=N")
	}
	total := *snapshotScale
	if *snapshotNodes == 1 {
		measureSingleNodeSnapshot(t, total)
		return
	}
	nodes := startCluster(t, 3, func(c *cluster.Config) { c.Profile = cluster.ProfileDefault })
	lagging := followers(nodes, waitLeader(t, nodes))[0]
	lagging.stop()

	start := time.Now()
	proposeBulk(t, nodes, "s", total, 1000, 2)
	load := time.Since(start)
	t.Logf("MEASURED bulk load of %d schedules: %v (%.0f schedules/s)", total, load.Round(time.Millisecond), float64(total)/load.Seconds())
	leader := waitLeader(t, nodes)
	other := followers(nodes, leader)[0]

	persist0 := histogramSum(t, leader, "sz_raft_snapshot_persist_seconds")
	start = time.Now()
	require.NoError(t, leader.node().ForceSnapshot())
	t.Logf("MEASURED leader snapshot (capture + persist): %v wall, persist %.2fs",
		time.Since(start).Round(time.Millisecond), histogramSum(t, leader, "sz_raft_snapshot_persist_seconds")-persist0)
	var size countingWriter
	start = time.Now()
	require.NoError(t, leader.node().WriteSnapshot(context.Background(), &size))
	t.Logf("MEASURED portable snapshot (WriteSnapshot): %d bytes in %v", size.n, time.Since(start).Round(time.Millisecond))
	t.Logf("leader log starts at %d, ends at %d; trailing logs %d", leader.node().FirstLogIndex(),
		leader.node().Self().LastIndex, leader.node().TrailingLogs())

	start = time.Now()
	lagging.start(false)
	waitConvergedFor(t, 5*time.Minute, nodes)
	t.Logf("MEASURED lagging follower caught up in %v: installs %.0f, restore %.2fs",
		time.Since(start).Round(time.Millisecond), metricValue(t, lagging, "sz_raft_snapshot_installs_total"),
		histogramSum(t, lagging, "sz_raft_restore_seconds"))
	require.GreaterOrEqual(t, metricValue(t, lagging, "sz_raft_snapshot_installs_total"), 1.0, "caught up by InstallSnapshot")
	require.Equal(t, total, lagging.node().FSM().Count())

	require.NoError(t, other.node().ForceSnapshot())
	other.stop()
	start = time.Now()
	other.start(false)
	t.Logf("MEASURED start-up restore: Start returned after %v, restore %.2fs", time.Since(start).Round(time.Millisecond),
		histogramSum(t, other, "sz_raft_restore_seconds"))
	waitConvergedFor(t, 5*time.Minute, nodes)
}

// measureSingleNodeSnapshot times the snapshot and the start-up restore of
// one node holding total schedules: the per-process cost, without three
// FSMs sharing one heap and two cores.
func measureSingleNodeSnapshot(t *testing.T, total int) {
	nodes := startCluster(t, 1, func(c *cluster.Config) { c.Profile = cluster.ProfileDefault })
	tn := nodes[0]
	start := time.Now()
	proposeBulk(t, nodes, "s", total, 1000, 2)
	load := time.Since(start)
	t.Logf("MEASURED bulk load of %d schedules: %v (%.0f schedules/s)", total, load.Round(time.Millisecond), float64(total)/load.Seconds())
	persist0 := histogramSum(t, tn, "sz_raft_snapshot_persist_seconds")
	start = time.Now()
	require.NoError(t, tn.node().ForceSnapshot())
	t.Logf("MEASURED snapshot (capture + persist): %v wall, persist %.2fs",
		time.Since(start).Round(time.Millisecond), histogramSum(t, tn, "sz_raft_snapshot_persist_seconds")-persist0)
	digest := tn.node().Self().Digest
	tn.stop()
	start = time.Now()
	n := tn.start(false)
	t.Logf("MEASURED start-up restore: Start returned after %v, restore %.2fs", time.Since(start).Round(time.Millisecond),
		histogramSum(t, tn, "sz_raft_restore_seconds"))
	waitLeader(t, nodes)
	waitUntil(t, func() error {
		if d := n.Self().Digest; d != digest {
			return fmt.Errorf("digest %s, want %s", d, digest)
		}
		return nil
	})
	require.Equal(t, total, n.FSM().Count())
}

// histogramSum returns the sample sum of an unlabelled histogram of tn.
func histogramSum(t testing.TB, tn *testNode, name string) float64 {
	t.Helper()
	mfs, err := tn.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	return 0
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
