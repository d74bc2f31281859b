package fsm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
)

// FSM is the replicated state: schedules and cluster members. Apply is
// deterministic — its only inputs are the log index and the entry bytes — so
// every node that applies the same log reaches the same state and the same
// Digest. FSM is safe for concurrent use: one writer (the Raft apply loop)
// and any number of readers.
//
// Memory layout (DESIGN.md "State shape"): a schedule costs its *Schedule,
// its ID string and one slot in the ID-ordered B-tree (scheduleIndex);
// strings that repeat across schedules are interned. Record hashes are not
// stored: they are recomputed from the record when it is replaced or
// removed.
type FSM struct {
	mu        sync.RWMutex
	applied   uint64
	schedules scheduleIndex
	nodes     map[string]*NodeInfo
	handlers  map[string]*HandlerInfo
	runs      runIndex
	digest    [sha256.Size]byte
	hash      hasher // scratch for record hashes; used under mu (write)
	feed      changeFeed

	// decodeMu guards in, the interner Apply decodes with. Decoding happens
	// outside mu so readers are not blocked by it.
	decodeMu sync.Mutex
	in       *interner
}

// New returns an empty FSM.
func New() *FSM {
	return &FSM{
		schedules: newScheduleIndex(),
		nodes:     make(map[string]*NodeInfo),
		handlers:  make(map[string]*HandlerInfo),
		runs:      newRunIndex(),
		feed:      newChangeFeed(),
		in:        newInterner(),
	}
}

// Apply decodes one log entry and applies its events in order. It returns one
// Result per event; when the entry cannot be decoded it returns a single
// Result carrying the decode error and changes nothing but the applied index.
//
// The events Apply decodes are its own, so records are stored in place
// (no copy of each decoded schedule or run).
func (f *FSM) Apply(index uint64, data []byte) []Result {
	f.decodeMu.Lock()
	events, err := decodeEntry(data, f.in)
	f.decodeMu.Unlock()
	defer f.signal()
	f.mu.Lock()
	defer f.mu.Unlock()
	if index > f.applied {
		f.applied = index
	}
	if err != nil {
		return []Result{{Err: err, Index: index}}
	}
	results := make([]Result, len(events))
	for i := range events {
		results[i] = f.applyLocked(index, &events[i])
	}
	return results
}

func (f *FSM) applyLocked(index uint64, ev *Event) Result {
	var r Result
	switch ev.Type {
	case ScheduleCreated:
		r = f.create(ev)
	case ScheduleUpdated:
		r = f.update(ev)
	case SchedulePaused, ScheduleResumed:
		r = f.setPaused(ev, ev.Type == SchedulePaused)
	case ScheduleDeleted:
		r = f.remove(ev)
	case RunFired, RunSkipped, RunMissed:
		r = f.decideRun(ev)
	case RunAccepted, RunSucceeded, RunFailed, RunRetried, RunLost, RunCancelled:
		r = f.advanceRun(ev)
	case HandlerRegistered, HandlerExpired:
		r = f.applyHandler(ev)
	case NodeUpserted:
		r = f.upsertNode(ev)
	case NodeRemoved:
		r = f.removeNode(ev)
	case Noop:
	default:
		r.Err = fmt.Errorf("%w: unknown type %q", ErrInvalidEvent, ev.Type)
	}
	r.Index = index
	return r
}

// create stores ev.Schedule itself (Apply owns the decoded event).
func (f *FSM) create(ev *Event) Result {
	s := ev.Schedule
	if s == nil || s.ID == "" {
		return Result{Err: fmt.Errorf("%w: create without schedule id", ErrInvalidEvent)}
	}
	s.Version = 1
	s.CreatedAt = ev.At
	s.UpdatedAt = ev.At
	s.Params = canonRaw(s.Params)
	if _, exists := f.schedules.insert(s); exists {
		return Result{Err: fmt.Errorf("%w: %q", ErrExists, s.ID)}
	}
	xorInto(&f.digest, f.hash.schedule(s))
	f.note(ChangeSchedule, s.ID)
	return Result{Schedule: s}
}

func (f *FSM) update(ev *Event) Result {
	s := ev.Schedule
	if s == nil {
		return Result{Err: fmt.Errorf("%w: update without schedule", ErrInvalidEvent)}
	}
	cur, err := f.lookup(s.ID, ev.IfVersion)
	if err != nil {
		return Result{Err: err}
	}
	s.Version = cur.Version + 1
	s.CreatedAt = cur.CreatedAt
	s.UpdatedAt = ev.At
	s.Paused = cur.Paused
	// The high-water mark and run count belong to the schedule's history,
	// not its spec: an update never resets them.
	s.LastNominalAt = cur.LastNominalAt
	s.FiredRuns = cur.FiredRuns
	s.Params = canonRaw(s.Params)
	f.replace(cur, s)
	return Result{Schedule: s}
}

func (f *FSM) setPaused(ev *Event, paused bool) Result {
	cur, err := f.lookup(ev.ID, ev.IfVersion)
	if err != nil {
		return Result{Err: err}
	}
	if cur.Paused == paused {
		return Result{Schedule: cur}
	}
	s := *cur
	s.Paused = paused
	s.Version++
	s.UpdatedAt = ev.At
	f.replace(cur, &s)
	return Result{Schedule: &s}
}

func (f *FSM) remove(ev *Event) Result {
	cur, err := f.lookup(ev.ID, ev.IfVersion)
	if err != nil {
		return Result{Err: err}
	}
	xorInto(&f.digest, f.hash.schedule(cur))
	f.schedules.delete(cur.ID)
	f.note(ChangeSchedule, cur.ID)
	f.dropRuns(cur.ID)
	return Result{}
}

func (f *FSM) lookup(id string, ifVersion uint64) (*Schedule, error) {
	s, ok := f.schedules.get(id)
	if !ok {
		return nil, fmt.Errorf("%w: schedule %q", ErrNotFound, id)
	}
	if ifVersion != 0 && s.Version != ifVersion {
		return nil, fmt.Errorf("%w: schedule %q is at version %d, not %d", ErrVersionMismatch, id, s.Version, ifVersion)
	}
	return s, nil
}

// replace installs s, the next version of the stored schedule cur, and
// keeps the digest current. s must not be shared with a caller that
// modifies it.
func (f *FSM) replace(cur, s *Schedule) {
	xorInto(&f.digest, f.hash.schedule(cur))
	s.ID = cur.ID // one copy of the ID
	xorInto(&f.digest, f.hash.schedule(s))
	f.schedules.set(s)
	f.note(ChangeSchedule, s.ID)
	if s.Policy.HistoryLimit != cur.Policy.HistoryLimit || s.Policy.HistoryMaxAge != cur.Policy.HistoryMaxAge {
		if l := f.runs.bySched[s.ID]; l != nil {
			l.setPolicy(&s.Policy)
		}
	}
}

func (f *FSM) upsertNode(ev *Event) Result {
	n := ev.Node
	if n == nil || n.ID == "" {
		return Result{Err: fmt.Errorf("%w: node.upserted without node id", ErrInvalidEvent)}
	}
	if old, ok := f.nodes[n.ID]; ok {
		xorInto(&f.digest, f.hash.node(old))
	}
	f.nodes[n.ID] = n
	xorInto(&f.digest, f.hash.node(n))
	return Result{}
}

func (f *FSM) removeNode(ev *Event) Result {
	old, ok := f.nodes[ev.ID]
	if !ok {
		return Result{Err: fmt.Errorf("%w: node %q", ErrNotFound, ev.ID)}
	}
	xorInto(&f.digest, f.hash.node(old))
	delete(f.nodes, ev.ID)
	return Result{}
}

// AppliedIndex returns the index of the last applied log entry.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied
}

// Digest returns a hex digest of the whole state. Two nodes at the same
// applied index have the same digest.
func (f *FSM) Digest() string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return hex.EncodeToString(f.digest[:16])
}

// Get returns the schedule with the given ID. The returned value must not be
// modified.
func (f *FSM) Get(id string) (*Schedule, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.schedules.get(id)
}

// Count returns the number of schedules.
func (f *FSM) Count() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.schedules.len()
}

// List returns up to limit schedules with IDs greater than after, in ID
// order, and the cursor for the next page ("" when there is none). It costs
// O(log n + limit) (the ID index is a B-tree) and takes only the read lock.
func (f *FSM) List(after string, limit int) ([]*Schedule, string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	limit = max(limit, 0)
	out := make([]*Schedule, 0, min(limit, f.schedules.len()))
	more := false
	f.schedules.ascend(after, func(s *Schedule) bool {
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, s)
		return true
	})
	next := ""
	if more && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return out, next
}

// Nodes returns the member records, sorted by ID.
func (f *FSM) Nodes() []NodeInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]NodeInfo, 0, len(f.nodes))
	for _, n := range f.nodes {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Node returns the member record for id.
func (f *FSM) Node(id string) (NodeInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, ok := f.nodes[id]
	if !ok {
		return NodeInfo{}, false
	}
	return *n, true
}
