package cluster_test

import (
	"flag"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/cluster"
)

var (
	failoverTrials = flag.Int("failover.trials", 0,
		"TestFailover_Measure: leader crashes per profile (0 skips the measurement)")
	failoverProfiles = flag.String("failover.profiles", "default,fast,test",
		"TestFailover_Measure: comma-separated timing profiles to measure")
)

// TestFailover_Measure measures crash failover per timing profile: the
// leader's Raft stops abruptly (no transfer; its sockets close as a killed
// process's would) and the clock runs until a follower publishes true on
// LeadershipChanges (its post-election barrier is applied). It only runs
// when asked, e.g.
//
//	go test ./cluster -run TestFailover_Measure -failover.trials=15 -v
//
// The figures in DESIGN.md §2 come from this test.
func TestFailover_Measure(t *testing.T) {
	if *failoverTrials <= 0 {
		t.Skip("measurement; enable with -failover.trials=N")
	}
	for _, profile := range strings.Split(*failoverProfiles, ",") {
		t.Run(profile, func(t *testing.T) {
			measureFailover(t, profile, *failoverTrials)
		})
	}
}

func measureFailover(t *testing.T, profile string, trials int) {
	nodes := startCluster(t, 3, func(c *cluster.Config) { c.Profile = profile })
	var elected, ready []time.Duration
	for i := range trials {
		old := waitLeader(t, nodes)
		waitConverged(t, nodes)
		// Random phase against the leader's heartbeats and the followers'
		// randomised timers.
		time.Sleep(time.Duration(rand.Int64N(int64(200 * time.Millisecond))))
		fs := followers(nodes, old)
		for _, f := range fs {
			drain(f.node().LeadershipChanges())
		}
		start := time.Now()
		old.crash()
		e, r := awaitFailover(t, fs, start)
		elected, ready = append(elected, e), append(ready, r)
		t.Logf("trial %d: elected after %v, ready after %v", i+1, e.Round(time.Millisecond), r.Round(time.Millisecond))
		old.start(false)
	}
	t.Logf("MEASURED profile %s, %d crashes: elected min/median/max %v, ready min/median/max %v",
		profile, trials, summary(elected), summary(ready))
}

// awaitFailover returns how long after start one of fs became Raft leader
// and when it published a ready leadership.
func awaitFailover(t *testing.T, fs []*testNode, start time.Time) (elected, ready time.Duration) {
	t.Helper()
	deadline := time.After(waitTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case v := <-fs[0].node().LeadershipChanges():
			if v {
				return orNow(elected, start), time.Since(start)
			}
		case v := <-fs[1].node().LeadershipChanges():
			if v {
				return orNow(elected, start), time.Since(start)
			}
		case <-tick.C:
			if elected == 0 && (fs[0].node().IsLeader() || fs[1].node().IsLeader()) {
				elected = time.Since(start)
			}
		case <-deadline:
			t.Fatal("no ready leader after the crash")
		}
	}
}

func orNow(d time.Duration, start time.Time) time.Duration {
	if d == 0 {
		return time.Since(start)
	}
	return d
}

func drain(ch <-chan bool) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// summary formats min/median/max of ds.
func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return r(s[0]) + "/" + r(s[len(s)/2]) + "/" + r(s[len(s)-1])
}
