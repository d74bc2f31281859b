package fsm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// FSM is the replicated state: schedules and cluster members. Apply is
// deterministic — its only inputs are the log index and the entry bytes — so
// every node that applies the same log reaches the same state and the same
// Digest. FSM is safe for concurrent use: one writer (the Raft apply loop)
// and any number of readers.
type FSM struct {
	mu        sync.RWMutex
	applied   uint64
	schedules map[string]*entry
	nodes     map[string]*NodeInfo
	runs      map[string]*runEntry
	// runsBySchedule lists each schedule's run IDs in the order they were
	// created (which is nominal order for automatic runs).
	runsBySchedule map[string][]string
	handlers       map[string]*HandlerInfo
	digest         [sha256.Size]byte
	sorted         []string // cached sorted schedule IDs; nil when stale
	feed           changeFeed
}

type entry struct {
	s    *Schedule
	hash [sha256.Size]byte
}

// New returns an empty FSM.
func New() *FSM {
	return &FSM{
		schedules:      make(map[string]*entry),
		nodes:          make(map[string]*NodeInfo),
		runs:           make(map[string]*runEntry),
		runsBySchedule: make(map[string][]string),
		handlers:       make(map[string]*HandlerInfo),
		feed:           newChangeFeed(),
	}
}

// Apply decodes one log entry and applies its events in order. It returns one
// Result per event; when the entry cannot be decoded it returns a single
// Result carrying the decode error and changes nothing but the applied index.
func (f *FSM) Apply(index uint64, data []byte) []Result {
	events, err := Decode(data)
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

func (f *FSM) create(ev *Event) Result {
	if ev.Schedule == nil || ev.Schedule.ID == "" {
		return Result{Err: fmt.Errorf("%w: create without schedule id", ErrInvalidEvent)}
	}
	if _, ok := f.schedules[ev.Schedule.ID]; ok {
		return Result{Err: fmt.Errorf("%w: %q", ErrExists, ev.Schedule.ID)}
	}
	s := *ev.Schedule
	s.Version = 1
	s.CreatedAt = ev.At
	s.UpdatedAt = ev.At
	f.put(&s)
	f.sorted = nil
	return Result{Schedule: &s}
}

func (f *FSM) update(ev *Event) Result {
	if ev.Schedule == nil {
		return Result{Err: fmt.Errorf("%w: update without schedule", ErrInvalidEvent)}
	}
	cur, err := f.lookup(ev.Schedule.ID, ev.IfVersion)
	if err != nil {
		return Result{Err: err}
	}
	s := *ev.Schedule
	s.Version = cur.Version + 1
	s.CreatedAt = cur.CreatedAt
	s.UpdatedAt = ev.At
	s.Paused = cur.Paused
	// The high-water mark and run count belong to the schedule's history,
	// not its spec: an update never resets them.
	s.LastNominalAt = cur.LastNominalAt
	s.FiredRuns = cur.FiredRuns
	f.put(&s)
	return Result{Schedule: &s}
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
	f.put(&s)
	return Result{Schedule: &s}
}

func (f *FSM) remove(ev *Event) Result {
	if _, err := f.lookup(ev.ID, ev.IfVersion); err != nil {
		return Result{Err: err}
	}
	xorInto(&f.digest, f.schedules[ev.ID].hash)
	delete(f.schedules, ev.ID)
	f.note(ChangeSchedule, ev.ID)
	f.dropRuns(ev.ID)
	f.sorted = nil
	return Result{}
}

func (f *FSM) lookup(id string, ifVersion uint64) (*Schedule, error) {
	e, ok := f.schedules[id]
	if !ok {
		return nil, fmt.Errorf("%w: schedule %q", ErrNotFound, id)
	}
	if ifVersion != 0 && e.s.Version != ifVersion {
		return nil, fmt.Errorf("%w: schedule %q is at version %d, not %d", ErrVersionMismatch, id, e.s.Version, ifVersion)
	}
	return e.s, nil
}

// put stores s (replacing any previous value) and keeps the digest current.
func (f *FSM) put(s *Schedule) {
	if old, ok := f.schedules[s.ID]; ok {
		xorInto(&f.digest, old.hash)
	}
	h := hashOf('s', s)
	xorInto(&f.digest, h)
	f.schedules[s.ID] = &entry{s: s, hash: h}
	f.note(ChangeSchedule, s.ID)
}

func (f *FSM) upsertNode(ev *Event) Result {
	if ev.Node == nil || ev.Node.ID == "" {
		return Result{Err: fmt.Errorf("%w: node.upserted without node id", ErrInvalidEvent)}
	}
	n := *ev.Node
	putRecord(f, f.nodes, 'n', n.ID, &n)
	return Result{}
}

func (f *FSM) removeNode(ev *Event) Result {
	if !dropRecord(f, f.nodes, 'n', ev.ID) {
		return Result{Err: fmt.Errorf("%w: node %q", ErrNotFound, ev.ID)}
	}
	return Result{}
}

// putRecord stores v under key in m (nodes, handlers), replacing any
// previous record, and keeps the digest current.
func putRecord[T any](f *FSM, m map[string]*T, kind byte, key string, v *T) {
	if old, ok := m[key]; ok {
		xorInto(&f.digest, hashOf(kind, old))
	}
	m[key] = v
	xorInto(&f.digest, hashOf(kind, v))
}

// dropRecord removes key from m and from the digest; it reports whether
// the record existed.
func dropRecord[T any](f *FSM, m map[string]*T, kind byte, key string) bool {
	old, ok := m[key]
	if !ok {
		return false
	}
	xorInto(&f.digest, hashOf(kind, old))
	delete(m, key)
	return true
}

// hashOf is the per-record contribution to the digest. The digest is the XOR
// of all record hashes: order-independent, so it can be maintained in O(1)
// per event and is identical on every node holding the same records.
func hashOf(kind byte, v any) [sha256.Size]byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Unreachable: Schedule and NodeInfo hold only marshalable fields and
		// params were valid JSON when decoded. Hash the error deterministically
		// rather than panic inside the apply loop.
		b = []byte(err.Error())
	}
	h := sha256.New()
	h.Write([]byte{kind})
	h.Write(b)
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

func xorInto(dst *[sha256.Size]byte, h [sha256.Size]byte) {
	for i := range dst {
		dst[i] ^= h[i]
	}
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
	e, ok := f.schedules[id]
	if !ok {
		return nil, false
	}
	return e.s, true
}

// Count returns the number of schedules.
func (f *FSM) Count() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.schedules)
}

// List returns up to limit schedules with IDs greater than after, in ID
// order, and the cursor for the next page ("" when there is none).
func (f *FSM) List(after string, limit int) ([]*Schedule, string) {
	f.mu.Lock() // the sorted cache may be rebuilt
	defer f.mu.Unlock()
	ids := f.sortedIDsLocked()
	start := sort.SearchStrings(ids, after)
	if start < len(ids) && ids[start] == after {
		start++
	}
	end := min(start+limit, len(ids))
	out := make([]*Schedule, 0, end-start)
	for _, id := range ids[start:end] {
		out = append(out, f.schedules[id].s)
	}
	next := ""
	if end < len(ids) && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return out, next
}

func (f *FSM) sortedIDsLocked() []string {
	if f.sorted == nil {
		f.sorted = make([]string, 0, len(f.schedules))
		for id := range f.schedules {
			f.sorted = append(f.sorted, id)
		}
		sort.Strings(f.sorted)
	}
	return f.sorted
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
