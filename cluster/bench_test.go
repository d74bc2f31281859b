package cluster_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

var (
	benchInflight = flag.String("bench.inflight", "1,2",
		"BenchmarkPropose: comma-separated transport MaxRPCsInFlight values (1 = no pipelining)")
	benchProfile = flag.String("bench.profile", cluster.ProfileDefault, "benchmarks: timing profile of the cluster")
	benchEvent   = flag.String("bench.event", "update",
		"BenchmarkPropose: event proposed, update (a schedule update, ~300 bytes) or noop (~60 bytes, no state change)")
)

// benchPool is how many schedules BenchmarkPropose updates round-robin, so
// the state stays the same size however long the benchmark runs.
const benchPool = 4096

// warnLog sends only warnings and errors to tb (benchmarks always print
// their log).
func warnLog(tb testing.TB) func(*cluster.Config) {
	w := &testLog{t: tb}
	tb.Cleanup(w.close)
	return func(c *cluster.Config) {
		c.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
}

// startBenchCluster starts a 3-node cluster with the -bench.profile timing
// and the given options, and returns it with its leader.
func startBenchCluster(b *testing.B, opts ...func(*cluster.Config)) ([]*testNode, *testNode) {
	b.Helper()
	opts = append([]func(*cluster.Config){
		func(c *cluster.Config) { c.Profile = *benchProfile },
		warnLog(b),
	}, opts...)
	nodes := startCluster(b, 3, opts...)
	return nodes, waitLeader(b, nodes)
}

// BenchmarkPropose measures the batched write path on a 3-node in-process
// cluster (loopback TCP, fsync on): proposers goroutines each call Propose
// with events schedule updates, b.N calls in all. ns/op is per Propose
// call; events/s and entries/s are what the cluster committed; allocs/op
// counts the whole process (three nodes) per call.
//
//	go test ./cluster -run '^$' -bench BenchmarkPropose -benchmem -benchtime 3s
func BenchmarkPropose(b *testing.B) {
	for _, inflight := range intList(b, *benchInflight) {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			nodes, leader := startBenchCluster(b, cluster.WithMaxRPCsInFlight(inflight))
			seedSchedules(b, leader.node(), benchPool)
			for _, proposers := range []int{1, 16, 64, 256} {
				for _, events := range []int{1, 3, 30} {
					b.Run(fmt.Sprintf("proposers=%d/events=%d", proposers, events), func(b *testing.B) {
						benchPropose(b, nodes, leader, proposers, events)
					})
				}
			}
		})
	}
}

func benchPropose(b *testing.B, nodes []*testNode, leader *testNode, proposers, events int) {
	ctx := context.Background()
	entries0, events0 := batchHistogram(b, leader)
	term0 := leader.node().Self().Term
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range proposers {
		wg.Go(func() {
			evs := make([]fsm.Event, events)
			for {
				i := int(next.Add(1))
				if i > b.N {
					return
				}
				for j := range evs {
					evs[j] = benchEventOf((i*events + j) % benchPool)
				}
				if _, err := leader.node().Propose(ctx, evs...); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	entries, committed := batchHistogram(b, leader)
	entries, committed = entries-entries0, committed-events0
	b.ReportMetric(float64(committed)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(entries)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(committed)/float64(max(entries, 1)), "events/entry")
	if term := leader.node().Self().Term; term != term0 {
		b.Fatalf("leader changed during the benchmark (term %d → %d)", term0, term)
	}
	waitConverged(b, nodes)
}

// seedSchedules creates schedules pool-0 … pool-(count-1).
func seedSchedules(b *testing.B, n *cluster.Node, count int) {
	b.Helper()
	for i := 0; i < count; i += 512 {
		var evs []fsm.Event
		for j := i; j < min(i+512, count); j++ {
			evs = append(evs, createEvent(poolID(j)))
		}
		_, err := n.Propose(context.Background(), evs...)
		require.NoError(b, err)
	}
}

func poolID(i int) string { return "pool-" + strconv.Itoa(i) }

func benchEventOf(i int) fsm.Event {
	if *benchEvent == "noop" {
		return fsm.Event{Type: fsm.Noop}
	}
	ev := createEvent(poolID(i))
	ev.Type = fsm.ScheduleUpdated
	return ev
}

func intList(b *testing.B, s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(b, err)
		out = append(out, v)
	}
	return out
}

// BenchmarkBenchCommits measures the raw single-entry commit rate (one
// raft.Apply per noop entry of 256 bytes, no batcher) that Propose's
// batching is compared against, with and without pipelining. ns/op is per
// commit.
//
//	go test ./cluster -run '^$' -bench BenchmarkBenchCommits -benchmem -benchtime 3s
func BenchmarkBenchCommits(b *testing.B) {
	for _, inflight := range intList(b, *benchInflight) {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			_, leader := startBenchCluster(b, cluster.WithMaxRPCsInFlight(inflight))
			for _, concurrency := range []int{1, 16, 64, 256} {
				b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
					benchCommits(b, leader.node(), concurrency)
				})
			}
		})
	}
}

func benchCommits(b *testing.B, n *cluster.Node, concurrency int) {
	b.ReportAllocs()
	var p50, p99 time.Duration
	start := time.Now()
	for done := 0; done < b.N; {
		chunk := min(b.N-done, cluster.MaxBenchCommits)
		res, err := n.BenchCommits(context.Background(), chunk, concurrency, 256)
		require.NoError(b, err)
		require.Equal(b, chunk, res.Commits)
		p50, p99 = max(p50, res.P50), max(p99, res.P99)
		done += chunk
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commits/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}
