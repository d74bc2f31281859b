package fsm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// SnapshotVersion is the format version written in a snapshot's header.
const SnapshotVersion = 1

// Snapshot is a point-in-time capture of the FSM. Taking it costs one copy
// of the record pointers under the lock (records are immutable); encoding
// happens in WriteTo, concurrently with further Apply calls.
type Snapshot struct {
	index     uint64
	schedules []*Schedule
	nodes     []NodeInfo
	runs      []*Run
	handlers  []HandlerInfo
}

type snapshotHeader struct {
	Version   int    `json:"v"`
	Index     uint64 `json:"index"`
	Schedules int    `json:"schedules"`
	Nodes     int    `json:"nodes"`
	Runs      int    `json:"runs"`
	Handlers  int    `json:"handlers"`
}

type snapshotRecord struct {
	Schedule *Schedule    `json:"s,omitempty"`
	Node     *NodeInfo    `json:"n,omitempty"`
	Run      *Run         `json:"r,omitempty"`
	Handler  *HandlerInfo `json:"h,omitempty"`
}

// Snapshot captures the current state.
func (f *FSM) Snapshot() *Snapshot {
	f.mu.RLock()
	defer f.mu.RUnlock()
	snap := &Snapshot{index: f.applied, schedules: make([]*Schedule, 0, len(f.schedules))}
	for _, e := range f.schedules {
		snap.schedules = append(snap.schedules, e.s)
	}
	for _, n := range f.nodes {
		snap.nodes = append(snap.nodes, *n)
	}
	snap.runs = make([]*Run, 0, len(f.runs))
	for _, e := range f.runs {
		snap.runs = append(snap.runs, e.r)
	}
	for _, h := range f.handlers {
		snap.handlers = append(snap.handlers, *h)
	}
	return snap
}

// Index returns the applied index the snapshot was taken at.
func (s *Snapshot) Index() uint64 { return s.index }

// WriteTo encodes the snapshot: a header line, then one JSON record per
// line, schedules in ID order so equal states give equal bytes.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) {
	sort.Slice(s.schedules, func(i, j int) bool { return s.schedules[i].ID < s.schedules[j].ID })
	sort.Slice(s.nodes, func(i, j int) bool { return s.nodes[i].ID < s.nodes[j].ID })
	sort.Slice(s.runs, func(i, j int) bool { return s.runs[i].ID < s.runs[j].ID })
	sort.Slice(s.handlers, func(i, j int) bool { return s.handlers[i].Instance < s.handlers[j].Instance })
	cw := &countingWriter{w: bufio.NewWriterSize(w, 1<<20)}
	enc := json.NewEncoder(cw)
	hdr := snapshotHeader{Version: SnapshotVersion, Index: s.index, Schedules: len(s.schedules), Nodes: len(s.nodes),
		Runs: len(s.runs), Handlers: len(s.handlers)}
	if err := enc.Encode(hdr); err != nil {
		return cw.n, fmt.Errorf("fsm: snapshot header: %w", err)
	}
	for _, sc := range s.schedules {
		if err := enc.Encode(snapshotRecord{Schedule: sc}); err != nil {
			return cw.n, fmt.Errorf("fsm: snapshot schedule %q: %w", sc.ID, err)
		}
	}
	for i := range s.nodes {
		if err := enc.Encode(snapshotRecord{Node: &s.nodes[i]}); err != nil {
			return cw.n, fmt.Errorf("fsm: snapshot node: %w", err)
		}
	}
	for _, r := range s.runs {
		if err := enc.Encode(snapshotRecord{Run: r}); err != nil {
			return cw.n, fmt.Errorf("fsm: snapshot run %q: %w", r.ID, err)
		}
	}
	for i := range s.handlers {
		if err := enc.Encode(snapshotRecord{Handler: &s.handlers[i]}); err != nil {
			return cw.n, fmt.Errorf("fsm: snapshot handler: %w", err)
		}
	}
	if err := cw.w.(*bufio.Writer).Flush(); err != nil {
		return cw.n, fmt.Errorf("fsm: snapshot flush: %w", err)
	}
	return cw.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Restore replaces the whole state with the snapshot read from r. On error
// the FSM is left unchanged.
func (f *FSM) Restore(r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var hdr snapshotHeader
	if err := dec.Decode(&hdr); err != nil {
		return fmt.Errorf("%w: snapshot header: %w", ErrCorrupt, err)
	}
	if hdr.Version != SnapshotVersion {
		return fmt.Errorf("%w: snapshot version %d", ErrUnsupportedVersion, hdr.Version)
	}
	next := New()
	next.applied = hdr.Index
	for i := 0; i < hdr.Schedules+hdr.Nodes+hdr.Runs+hdr.Handlers; i++ {
		var rec snapshotRecord
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("%w: snapshot record %d: %w", ErrCorrupt, i, err)
		}
		if err := next.restoreRecord(rec); err != nil {
			return err
		}
	}
	if len(next.schedules) != hdr.Schedules || len(next.nodes) != hdr.Nodes ||
		len(next.runs) != hdr.Runs || len(next.handlers) != hdr.Handlers {
		return fmt.Errorf("%w: snapshot counts do not match its header", ErrCorrupt)
	}
	defer f.signal()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.feed.seq++ // a restore invalidates every cursor: readers rescan
	f.feed.floor = f.feed.seq
	f.applied, f.schedules, f.nodes, f.digest, f.sorted = next.applied, next.schedules, next.nodes, next.digest, nil
	f.runs, f.runsBySchedule, f.handlers = next.runs, next.runsBySchedule, next.handlers
	return nil
}

func (f *FSM) restoreRecord(rec snapshotRecord) error {
	switch {
	case rec.Schedule != nil && rec.Schedule.ID != "":
		if _, dup := f.schedules[rec.Schedule.ID]; dup {
			return fmt.Errorf("%w: duplicate schedule %q in snapshot", ErrCorrupt, rec.Schedule.ID)
		}
		f.put(rec.Schedule)
	case rec.Node != nil && rec.Node.ID != "":
		if _, dup := f.nodes[rec.Node.ID]; dup {
			return fmt.Errorf("%w: duplicate node %q in snapshot", ErrCorrupt, rec.Node.ID)
		}
		n := *rec.Node
		putRecord(f, f.nodes, 'n', n.ID, &n)
	case rec.Run != nil && rec.Run.ID != "":
		if _, dup := f.runs[rec.Run.ID]; dup {
			return fmt.Errorf("%w: duplicate run %q in snapshot", ErrCorrupt, rec.Run.ID)
		}
		if _, ok := f.schedules[rec.Run.ScheduleID]; !ok {
			return fmt.Errorf("%w: run %q of unknown schedule %q", ErrCorrupt, rec.Run.ID, rec.Run.ScheduleID)
		}
		f.putRun(rec.Run)
	case rec.Handler != nil && rec.Handler.Instance != "":
		if _, dup := f.handlers[rec.Handler.Instance]; dup {
			return fmt.Errorf("%w: duplicate handler %q in snapshot", ErrCorrupt, rec.Handler.Instance)
		}
		h := *rec.Handler
		putRecord(f, f.handlers, 'h', h.Instance, &h)
	default:
		return fmt.Errorf("%w: empty snapshot record", ErrCorrupt)
	}
	return nil
}
