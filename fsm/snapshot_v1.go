package fsm

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Snapshot format version 1: a JSON header line {"v","index","schedules",
// "nodes","runs","handlers"} followed by one JSON record per line
// ({"s":…}, {"n":…}, {"r":…}, {"h":…}). Restore reads it (snapshots taken
// before version 2); WriteJSONTo writes it for people and golden files.

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

// WriteJSONTo encodes the snapshot in format version 1: line-delimited
// JSON, readable and diffable (schedules, nodes and runs by ID, handlers by
// instance), and accepted by Restore. It is several times slower and larger
// than WriteTo; use it to inspect a state, not to persist one.
func (s *Snapshot) WriteJSONTo(w io.Writer) (int64, error) {
	s.sortSmall()
	runs := slices.Clone(s.runs)
	slices.SortFunc(runs, func(a, b *Run) int { return strings.Compare(a.ID, b.ID) })
	cw := &countingWriter{w: bufio.NewWriterSize(w, 1<<20)}
	enc := json.NewEncoder(cw)
	hdr := snapshotHeader{Version: 1, Index: s.index, Schedules: len(s.schedules), Nodes: len(s.nodes),
		Runs: len(runs), Handlers: len(s.handlers)}
	if err := enc.Encode(hdr); err != nil {
		return cw.n, fmt.Errorf("fsm: snapshot header: %w", err)
	}
	for _, sc := range s.schedules {
		if err := enc.Encode(snapshotRecord{Schedule: sc}); err != nil {
			return cw.n, fmt.Errorf("fsm: snapshot schedule %q: %w", sc.ID, err)
		}
	}
	for _, n := range s.nodes {
		if err := enc.Encode(snapshotRecord{Node: n}); err != nil {
			return cw.n, fmt.Errorf("fsm: snapshot node: %w", err)
		}
	}
	for _, r := range runs {
		if err := enc.Encode(snapshotRecord{Run: r}); err != nil {
			return cw.n, fmt.Errorf("fsm: snapshot run %q: %w", r.ID, err)
		}
	}
	for _, h := range s.handlers {
		if err := enc.Encode(snapshotRecord{Handler: h}); err != nil {
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

// restoreV1 decodes a version-1 snapshot into a new state.
func restoreV1(r io.Reader) (*FSM, error) {
	dec := json.NewDecoder(r)
	var hdr snapshotHeader
	if err := dec.Decode(&hdr); err != nil {
		return nil, fmt.Errorf("%w: snapshot header: %w", ErrCorrupt, err)
	}
	if hdr.Version != 1 {
		return nil, fmt.Errorf("%w: snapshot version %d", ErrUnsupportedVersion, hdr.Version)
	}
	next := New()
	next.applied = hdr.Index
	for i := 0; i < hdr.Schedules+hdr.Nodes+hdr.Runs+hdr.Handlers; i++ {
		var rec snapshotRecord
		if err := dec.Decode(&rec); err != nil {
			return nil, fmt.Errorf("%w: snapshot record %d: %w", ErrCorrupt, i, err)
		}
		if err := next.restoreV1Record(rec); err != nil {
			return nil, err
		}
	}
	if next.schedules.len() != hdr.Schedules || len(next.nodes) != hdr.Nodes ||
		len(next.runs.byID) != hdr.Runs || len(next.handlers) != hdr.Handlers {
		return nil, fmt.Errorf("%w: snapshot counts do not match its header", ErrCorrupt)
	}
	return next, nil
}

func (f *FSM) restoreV1Record(rec snapshotRecord) error {
	in := f.in
	switch {
	case rec.Schedule != nil && rec.Schedule.ID != "":
		s := rec.Schedule
		internEvents([]Event{{Schedule: s}}, in)
		s.Params = in.raw(canonRaw(s.Params))
		return f.restoreSchedule(s)
	case rec.Node != nil && rec.Node.ID != "":
		return f.restoreNode(rec.Node)
	case rec.Run != nil && rec.Run.ID != "":
		r := rec.Run
		internEvents([]Event{{Run: r}}, in)
		r.Result = in.raw(canonRaw(r.Result))
		return f.restoreRun(r)
	case rec.Handler != nil && rec.Handler.Instance != "":
		return f.restoreHandler(rec.Handler)
	}
	return fmt.Errorf("%w: empty snapshot record", ErrCorrupt)
}
