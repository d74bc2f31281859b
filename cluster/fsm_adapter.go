package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/internal/clock"
)

// Sources of a restore into the FSM, as logged.
const (
	restoreStartup = "startup" // Raft restores its latest local snapshot in NewRaft
	restoreInstall = "install" // a follower installs the leader's snapshot (InstallSnapshot)
	restoreUser    = "user"    // RestoreSnapshot on the leader (raft.Restore)
)

// fsmAdapter is the thin raft.BatchingFSM around *fsm.FSM. Besides feeding
// committed commands to the FSM it tracks the highest Raft index whose
// effect the FSM holds. That index differs from fsm.AppliedIndex: the FSM
// sees only command entries, and after a restore it reports the index its
// snapshot was taken at in the log of origin. After a restore the adapter
// does not know the Raft index of the snapshot (Raft does not pass it to
// FSM.Restore), so it marks the index as restored-pending until the next
// entry arrives; Node.appliedIndex resolves that case with Raft's last
// snapshot index.
//
// Apply, ApplyBatch, Snapshot and Restore are called by Raft's FSM goroutine
// only (Restore also at start-up, before that goroutine runs). Snapshot
// persistence and restores are timed into the node's metrics and logged.
type fsmAdapter struct {
	fsm     *fsm.FSM
	log     *slog.Logger
	wall    clock.Clock
	metrics *metrics
	sizes   *entrySizes
	// raft is set once raft.NewRaft has returned; a restore before that is
	// the start-up restore of the latest local snapshot.
	raft atomic.Pointer[raft.Raft]

	mu       sync.Mutex
	applied  uint64
	restored bool          // a restore happened and no entry has been applied since
	changed  chan struct{} // closed and replaced whenever the state moves

	restores atomic.Uint64
}

var _ raft.BatchingFSM = (*fsmAdapter)(nil)

func newFSMAdapter(f *fsm.FSM, log *slog.Logger, m *metrics, sizes *entrySizes) *fsmAdapter {
	return &fsmAdapter{fsm: f, log: log, wall: clock.Real{}, metrics: m, sizes: sizes, changed: make(chan struct{})}
}

// Apply applies one log entry; Raft uses ApplyBatch instead, Apply exists
// to satisfy raft.FSM.
func (a *fsmAdapter) Apply(l *raft.Log) any {
	return a.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in order. The response for a command
// entry is the []fsm.Result of its events; other entry types (Raft sends
// configuration entries here too) get nil.
func (a *fsmAdapter) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	var last uint64
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			out[i] = a.fsm.Apply(l.Index, l.Data)
		}
		a.sizes.record(l.Index, len(l.Data))
		last = l.Index
	}
	a.advance(last)
	return out
}

// advance records that the FSM holds everything up to index and wakes
// waiters.
func (a *fsmAdapter) advance(index uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if index > a.applied || a.restored {
		a.applied = index
	}
	a.restored = false
	a.notifyLocked()
}

func (a *fsmAdapter) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// appliedIndex returns the highest Raft index the FSM is known to reflect,
// whether a restore has happened since (index then unknown to the adapter),
// and a channel closed when either changes.
func (a *fsmAdapter) appliedIndex() (index uint64, restored bool, changed <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applied, a.restored, a.changed
}

// Snapshot captures the FSM; the capture is O(records) pointer copies and
// encoding happens in Persist, concurrently with further applies.
func (a *fsmAdapter) Snapshot() (raft.FSMSnapshot, error) {
	start := a.wall.Now()
	snap := a.fsm.Snapshot()
	a.sizes.markSnapshot()
	return &fsmSnapshot{snap: snap, a: a, capture: a.wall.Since(start)}, nil
}

// Restore replaces the FSM state with the snapshot stream.
func (a *fsmAdapter) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	source := a.restoreSource()
	start := a.wall.Now()
	cr := &countingReader{r: rc}
	if err := a.fsm.Restore(cr); err != nil {
		return fmt.Errorf("cluster: restore fsm: %w", err)
	}
	took := a.wall.Since(start)
	a.metrics.restoreDuration.Observe(took.Seconds())
	if source == restoreInstall {
		a.metrics.snapshotInstalls.Inc()
	}
	a.restores.Add(1)
	a.sizes.reset()
	a.log.Info("restored snapshot into the FSM", slog.String("source", source), slog.Duration(logKeyDuration, took),
		slog.Int64(logKeyBytes, cr.n), slog.Uint64("fsm_index", a.fsm.AppliedIndex()), slog.Int("schedules", a.fsm.Count()))
	a.mu.Lock()
	defer a.mu.Unlock()
	a.restored = true
	a.notifyLocked()
	return nil
}

// restoreSource tells a start-up restore, a follower's InstallSnapshot and
// a user restore on the leader apart.
func (a *fsmAdapter) restoreSource() string {
	r := a.raft.Load()
	switch {
	case r == nil:
		return restoreStartup
	case r.State() == raft.Leader:
		return restoreUser
	default:
		return restoreInstall
	}
}

// fsmSnapshot persists one fsm.Snapshot.
type fsmSnapshot struct {
	snap    *fsm.Snapshot
	a       *fsmAdapter
	capture time.Duration // time fsm.Snapshot took on the FSM goroutine
}

// Persist writes the snapshot to sink and closes it, or cancels it on
// error. The time to encode, write and close (fsync) is observed as
// sz_raft_snapshot_persist_seconds.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	start := s.a.wall.Now()
	n, err := s.snap.WriteTo(sink)
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("cluster: persist snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("cluster: close snapshot: %w", err)
	}
	took := s.a.wall.Since(start)
	s.a.metrics.snapshotPersist.Observe(took.Seconds())
	s.a.log.Info("persisted snapshot", slog.String("id", sink.ID()), slog.Uint64("fsm_index", s.snap.Index()),
		slog.Duration("capture", s.capture), slog.Duration(logKeyDuration, took), slog.Int64(logKeyBytes, n))
	return nil
}

// Release is a no-op: the snapshot holds only immutable records.
func (s *fsmSnapshot) Release() {}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err // unwrapped: callers compare with io.EOF
}
