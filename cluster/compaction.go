package cluster

import (
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Size-aware log compaction (DESIGN.md §7). Raft bounds the log only by
// entry counts (SnapshotThreshold, TrailingLogs), but our entries range
// from a few hundred bytes (one event) to hundreds of kilobytes (a bulk
// load of 1000 schedules). The compaction loop adds byte bounds on top:
// it snapshots once SnapshotLogBytes (plus a per-node jitter of up to
// 50 %) of entries have been applied since the last snapshot, and it lowers Raft's TrailingLogs (via ReloadConfig)
// so that the entries kept after a snapshot hold about TrailingLogBytes.
const (
	// compactionInterval is how often the loop checks the byte bounds.
	compactionInterval = time.Second
	// minTrailingLogs is the fewest entries kept after a snapshot (or
	// Config.TrailingLogs if that is lower), however large they are.
	minTrailingLogs = 32
	// maxSizeRing bounds how many entry sizes are remembered.
	maxSizeRing = 1 << 16
)

// entrySizes remembers the sizes of the most recently applied log entries
// and the bytes applied since the last snapshot. The FSM goroutine records;
// the compaction loop reads.
type entrySizes struct {
	mu         sync.Mutex
	ring       []uint32 // size of entry i at ring[i%len(ring)]; 0 for entries not seen
	first      uint64   // lowest index recorded since start or the last reset (0: none)
	last       uint64   // highest index recorded
	total      uint64   // bytes recorded, ever
	atSnapshot uint64   // total when the last snapshot was captured
}

func newEntrySizes(trailingLogs uint64) *entrySizes {
	n := min(max(trailingLogs, 1024), maxSizeRing)
	return &entrySizes{ring: make([]uint32, n)}
}

// record notes that entry index of size bytes was applied.
func (s *entrySizes) record(index uint64, size int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := uint64(len(s.ring))
	if s.first == 0 || index <= s.last {
		s.first = index
		clear(s.ring)
	} else {
		// Clear the slots of indexes that never reach the FSM (Raft's
		// no-ops and barriers) so they do not keep older entries' sizes.
		for i := s.last + 1; i < index && i < s.last+1+n; i++ {
			s.ring[i%n] = 0
		}
	}
	s.ring[index%n] = uint32(min(size, 1<<32-1))
	s.last = index
	s.total += uint64(size)
}

// reset forgets the sizes (after a restore the log before it is unknown)
// and counts the restored state as a fresh snapshot.
func (s *entrySizes) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.first, s.last = 0, 0
	clear(s.ring)
	s.atSnapshot = s.total
}

// markSnapshot notes that a snapshot of everything recorded was captured.
func (s *entrySizes) markSnapshot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.atSnapshot = s.total
}

// sinceSnapshot returns the bytes applied since the last snapshot.
func (s *entrySizes) sinceSnapshot() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total - s.atSnapshot
}

// trailing returns how many of the newest entries fit in budget bytes,
// between lo and hi. When every remembered entry fits, it returns hi: the
// sizes of older entries are unknown, and hi is the configured bound.
func (s *entrySizes) trailing(budget uint64, lo, hi uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first == 0 {
		return hi
	}
	n := uint64(len(s.ring))
	var sum, count uint64
	for i := s.last; i >= s.first && count < min(hi, n); i-- {
		sum += uint64(s.ring[i%n])
		if sum > budget {
			return max(count, lo)
		}
		count++
	}
	return hi
}

// runCompaction enforces the byte bounds every compactionInterval until
// the node stops.
func (n *Node) runCompaction() {
	defer n.wg.Done()
	t := n.wall.NewTimer(compactionInterval)
	defer t.Stop()
	trailing := n.cfg.TrailingLogs
	// Every node applies the same entries, so without jitter all of them
	// would cross the byte budget, and snapshot, at the same moment.
	budget := jittered(n.cfg.SnapshotLogBytes)
	var retryAt time.Time
	for {
		select {
		case <-n.stopCh:
			return
		case <-t.C():
			t.Reset(compactionInterval)
		}
		trailing = n.adjustTrailingLogs(trailing)
		if n.sizes.sinceSnapshot() >= budget && !n.wall.Now().Before(retryAt) {
			if !n.snapshotForBytes() {
				retryAt = n.wall.Now().Add(n.cfg.SnapshotInterval)
			}
		}
	}
}

// jittered returns b plus a random 0–50 % of b (saturating; the jitter is
// capped at 1 TiB so a "never" budget stays never).
func jittered(b uint64) uint64 {
	j := uint64(rand.Int64N(int64(min(b/2, 1<<40)) + 1))
	if b > math.MaxUint64-j {
		return math.MaxUint64
	}
	return b + j
}

// adjustTrailingLogs sets Raft's TrailingLogs to the number of newest
// entries that fit in TrailingLogBytes (within [min(minTrailingLogs,
// TrailingLogs), TrailingLogs]) if that differs from current, and returns
// the value in force.
func (n *Node) adjustTrailingLogs(current uint64) uint64 {
	lo := min(minTrailingLogs, n.cfg.TrailingLogs)
	want := n.sizes.trailing(n.cfg.TrailingLogBytes, lo, n.cfg.TrailingLogs)
	if want == current {
		return current
	}
	rc := n.raft.ReloadableConfig()
	rc.TrailingLogs = want
	if err := n.raft.ReloadConfig(rc); err != nil {
		n.log.Warn("adjusting trailing logs failed", slog.Any(logKeyErr, err))
		return current
	}
	n.log.Debug("adjusted trailing logs to the byte budget", slog.Uint64("trailing_logs", want),
		slog.Uint64("trailing_log_bytes", n.cfg.TrailingLogBytes))
	return want
}

// snapshotForBytes takes a snapshot because the log grew past
// SnapshotLogBytes; it reports whether that worked (or was not needed).
func (n *Node) snapshotForBytes() bool {
	n.log.Info("log grew past its byte budget, taking a snapshot",
		slog.Uint64(logKeyBytes, n.sizes.sinceSnapshot()), slog.Uint64("snapshot_log_bytes", n.cfg.SnapshotLogBytes))
	f := n.raft.Snapshot()
	bindShutdown(f, n.raftDown)
	err := f.Error()
	switch {
	case err == nil, errors.Is(err, raft.ErrRaftShutdown):
		return true
	case errors.Is(err, raft.ErrNothingNewToSnapshot):
		n.sizes.markSnapshot()
		return true
	default:
		n.log.Warn("snapshot for the log byte budget failed", slog.Any(logKeyErr, err))
		return false
	}
}
