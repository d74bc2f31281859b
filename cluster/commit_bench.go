package cluster

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/fsm"
)

// Bounds of BenchCommits, so that the diagnostic is safe on a live cluster:
// it writes at most MaxBenchCommits entries and MaxBenchBytes of payload
// into the Raft log (which snapshots truncate again like any other entries).
const (
	MaxBenchCommits     = 100_000
	MaxBenchConcurrency = 1024
	MaxBenchPayload     = 1 << 20
	MaxBenchBytes       = 256 << 20
)

// CommitBench is the result of Node.BenchCommits.
type CommitBench struct {
	// Commits is how many entries committed (all of them on success).
	Commits int
	// Concurrency is how many Raft applies were in flight at a time.
	Concurrency int
	// PayloadBytes is the padding carried by each entry.
	PayloadBytes int
	// Elapsed is the wall time of the whole run.
	Elapsed time.Duration
	// PerSec is Commits / Elapsed.
	PerSec float64
	// P50 and P99 are per-commit latencies: raft.Apply until the entry is
	// committed and applied on the leader.
	P50, P99 time.Duration
}

// BenchCommits measures the raw single-entry commit rate of the cluster
// (leader only): it commits count entries, each its own raft.Apply holding
// one fsm.Noop event padded with payload bytes, concurrency applies at a
// time. It bypasses the Propose batcher, so it is the baseline that
// batching is compared against: the same Raft configuration, stores and
// transport, one entry per commit (Raft still group-commits concurrent
// applies into one fsync, as it does for Propose's entries). Noop entries
// change nothing in the replicated state but the applied index.
//
// Bounds: 1 ≤ count ≤ MaxBenchCommits, 1 ≤ concurrency ≤
// MaxBenchConcurrency, 0 ≤ payload ≤ MaxBenchPayload and count × payload ≤
// MaxBenchBytes, else ErrInvalidRequest; one run at a time per node
// (ErrInvalidRequest while another is running). ctx is checked before each
// commit (ErrTimeout when it ends; entries in flight still commit). Errors
// otherwise are those of Propose.
func (n *Node) BenchCommits(ctx context.Context, count, concurrency, payload int) (CommitBench, error) {
	if err := checkBenchArgs(count, concurrency, payload); err != nil {
		return CommitBench{}, err
	}
	if err := ctx.Err(); err != nil {
		return CommitBench{}, fmt.Errorf("%w: commit benchmark: %w", ErrTimeout, context.Cause(ctx))
	}
	if err := n.checkLeader(); err != nil {
		return CommitBench{}, err
	}
	if !n.benchRunning.CompareAndSwap(false, true) {
		return CommitBench{}, fmt.Errorf("%w: a commit benchmark is already running on this node", ErrInvalidRequest)
	}
	defer n.benchRunning.Store(false)
	data, err := fsm.Encode([]fsm.Event{{Type: fsm.Noop, At: n.clock.Now().UTC(), Error: strings.Repeat("x", payload)}})
	if err != nil {
		return CommitBench{}, fmt.Errorf("cluster: encode bench entry: %w", err)
	}
	lat, elapsed, err := n.runCommits(ctx, data, count, concurrency)
	if err != nil {
		return CommitBench{}, err
	}
	slices.Sort(lat)
	return CommitBench{
		Commits: len(lat), Concurrency: concurrency, PayloadBytes: payload, Elapsed: elapsed,
		PerSec: float64(len(lat)) / elapsed.Seconds(), P50: percentile(lat, 0.50), P99: percentile(lat, 0.99),
	}, nil
}

func checkBenchArgs(count, concurrency, payload int) error {
	switch {
	case count < 1 || count > MaxBenchCommits:
		return fmt.Errorf("%w: commits %d not in [1, %d]", ErrInvalidRequest, count, MaxBenchCommits)
	case concurrency < 1 || concurrency > MaxBenchConcurrency:
		return fmt.Errorf("%w: concurrency %d not in [1, %d]", ErrInvalidRequest, concurrency, MaxBenchConcurrency)
	case payload < 0 || payload > MaxBenchPayload:
		return fmt.Errorf("%w: payload %d not in [0, %d]", ErrInvalidRequest, payload, MaxBenchPayload)
	case int64(count)*int64(payload) > MaxBenchBytes:
		return fmt.Errorf("%w: %d commits of %d bytes exceed %d bytes", ErrInvalidRequest, count, payload, MaxBenchBytes)
	}
	return nil
}

// runCommits applies data count times from concurrency workers and returns
// the per-commit latencies (unsorted) and the elapsed time.
func (n *Node) runCommits(ctx context.Context, data []byte, count, concurrency int) ([]time.Duration, time.Duration, error) {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		lats    = make([][]time.Duration, concurrency)
	)
	fail := func(err error) { errOnce.Do(func() { first = err }) }
	start := n.wall.Now()
	for w := range concurrency {
		lats[w] = make([]time.Duration, 0, count/concurrency+1)
		wg.Go(func() {
			for next.Add(1) <= int64(count) {
				d, err := n.commitOne(ctx, data)
				if err != nil {
					fail(err)
					next.Store(int64(count)) // stop the other workers
					return
				}
				lats[w] = append(lats[w], d)
			}
		})
	}
	wg.Wait()
	elapsed := n.wall.Since(start)
	if first != nil {
		return nil, elapsed, first
	}
	return slices.Concat(lats...), elapsed, nil
}

// commitOne applies one entry and waits for it. The wait is not bounded
// by ctx (a goroutine per commit would distort the measurement); Raft
// resolves every apply future, at the latest when leadership is lost or
// Raft shuts down (bindShutdown).
func (n *Node) commitOne(ctx context.Context, data []byte) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%w: commit benchmark: %w", ErrTimeout, context.Cause(ctx))
	}
	r, err := n.running()
	if err != nil {
		return 0, err
	}
	t0 := n.wall.Now()
	f := r.Apply(data, n.raftTimeout(ctx))
	bindShutdown(f, n.raftDown)
	if err := f.Error(); err != nil {
		return 0, n.mapApplyErr(err)
	}
	return n.wall.Since(t0), nil
}

// percentile returns the nearest-rank p-quantile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
