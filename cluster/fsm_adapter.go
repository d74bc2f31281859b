package cluster

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/schedulezero/schedulezero/fsm"
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
// only (Restore also at start-up, before that goroutine runs).
type fsmAdapter struct {
	fsm *fsm.FSM

	mu       sync.Mutex
	applied  uint64
	restored bool          // a restore happened and no entry has been applied since
	changed  chan struct{} // closed and replaced whenever the state moves

	restores atomic.Uint64
}

var _ raft.BatchingFSM = (*fsmAdapter)(nil)

func newFSMAdapter(f *fsm.FSM) *fsmAdapter {
	return &fsmAdapter{fsm: f, changed: make(chan struct{})}
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
	return &fsmSnapshot{snap: a.fsm.Snapshot()}, nil
}

// Restore replaces the FSM state with the snapshot stream.
func (a *fsmAdapter) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := a.fsm.Restore(rc); err != nil {
		return fmt.Errorf("cluster: restore fsm: %w", err)
	}
	a.restores.Add(1)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.restored = true
	a.notifyLocked()
	return nil
}

// fsmSnapshot persists one fsm.Snapshot.
type fsmSnapshot struct {
	snap *fsm.Snapshot
}

// Persist writes the snapshot to sink and closes it, or cancels it on error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.snap.WriteTo(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("cluster: persist snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("cluster: close snapshot: %w", err)
	}
	return nil
}

// Release is a no-op: the snapshot holds only immutable records.
func (s *fsmSnapshot) Release() {}
