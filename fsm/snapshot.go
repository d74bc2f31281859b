package fsm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// SnapshotVersion is the format version WriteTo writes. Restore also reads
// version 1 (JSON lines), which WriteJSONTo still writes.
const SnapshotVersion = 2

// snapMagic opens a version-2 snapshot. A version-1 snapshot starts with
// '{', so the first bytes tell the formats apart.
var snapMagic = []byte("SZSNAP\x00\x02")

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Snapshot is a point-in-time capture of the FSM. Taking it costs one copy
// of the record pointers under the read lock, in the order WriteTo writes
// them (the indexes are ordered, so nothing is sorted); records are
// immutable, so encoding happens in WriteTo, concurrently with further
// Apply calls.
type Snapshot struct {
	index     uint64
	digest    [sha256.Size]byte
	schedules []*Schedule // ID order
	nodes     []*NodeInfo // ID order (sorted in WriteTo)
	runs      []*Run      // (nominal, ID) order
	handlers  []*HandlerInfo
}

// Snapshot captures the current state.
func (f *FSM) Snapshot() *Snapshot {
	f.mu.RLock()
	defer f.mu.RUnlock()
	snap := &Snapshot{index: f.applied, digest: f.digest}
	snap.schedules = f.schedules.items(make([]*Schedule, 0, f.schedules.len()))
	snap.runs = f.runs.ordered.Items(make([]*Run, 0, len(f.runs.byID)))
	for _, n := range f.nodes {
		snap.nodes = append(snap.nodes, n)
	}
	for _, h := range f.handlers {
		snap.handlers = append(snap.handlers, h)
	}
	return snap
}

// Index returns the applied index the snapshot was taken at.
func (s *Snapshot) Index() uint64 { return s.index }

func (s *Snapshot) sortSmall() {
	slices.SortFunc(s.nodes, func(a, b *NodeInfo) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(s.handlers, func(a, b *HandlerInfo) int { return strings.Compare(a.Instance, b.Instance) })
}

// WriteTo encodes the snapshot in format version 2 (DESIGN.md "Snapshots"):
//
//	magic "SZSNAP\x00\x02"
//	uvarint index, #schedules, #nodes, #runs, #handlers
//	per record: uvarint length, canonical record encoding (record.go);
//	  schedules by ID, nodes by ID, runs by (nominal, ID), handlers by instance
//	32-byte state digest (Digest is its first 16 bytes in hex)
//	CRC-32C (Castagnoli) of every byte before it, little-endian
//
// Equal states give equal bytes. Large snapshots are encoded in chunks by
// one goroutine per core and written in order.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) {
	return s.writeTo(w, min(runtime.GOMAXPROCS(0), 4))
}

func (s *Snapshot) writeTo(w io.Writer, workers int) (int64, error) {
	s.sortSmall()
	sw := &snapWriter{w: w, buf: make([]byte, 0, 64<<10)}
	sw.buf = append(sw.buf, snapMagic...)
	for _, v := range []uint64{s.index, uint64(len(s.schedules)), uint64(len(s.nodes)), uint64(len(s.runs)), uint64(len(s.handlers))} {
		sw.buf = binary.AppendUvarint(sw.buf, v)
	}
	chunks := s.chunks()
	if workers > 1 && len(chunks) > 1 {
		s.writeParallel(sw, chunks, workers)
	} else {
		for _, c := range chunks {
			sw.buf = s.encode(sw.buf, c)
			sw.flushIfFull()
		}
	}
	sw.buf = append(sw.buf, s.digest[:]...)
	sw.crc = crc32.Update(sw.crc, crcTable, sw.buf)
	sw.buf = binary.LittleEndian.AppendUint32(sw.buf, sw.crc)
	sw.flush(false)
	if sw.err != nil {
		return sw.n, fmt.Errorf("fsm: write snapshot: %w", sw.err)
	}
	return sw.n, nil
}

// snapRange is records [from, to) of one section.
type snapRange struct {
	kind     byte
	from, to int
}

const writeChunkRecords = 4096

func (s *Snapshot) chunks() []snapRange {
	var out []snapRange
	for _, sec := range []struct {
		kind byte
		n    int
	}{{kindSchedule, len(s.schedules)}, {kindNode, len(s.nodes)}, {kindRun, len(s.runs)}, {kindHandler, len(s.handlers)}} {
		for from := 0; from < sec.n; from += writeChunkRecords {
			out = append(out, snapRange{sec.kind, from, min(from+writeChunkRecords, sec.n)})
		}
	}
	return out
}

// encode appends the framed records of c to b.
func (s *Snapshot) encode(b []byte, c snapRange) []byte {
	var scratch [512]byte
	for i := c.from; i < c.to; i++ {
		var body []byte
		switch c.kind {
		case kindSchedule:
			body = appendSchedule(scratch[:0], s.schedules[i])
		case kindNode:
			body = appendNode(scratch[:0], s.nodes[i])
		case kindRun:
			body = appendRun(scratch[:0], s.runs[i])
		case kindHandler:
			body = appendHandler(scratch[:0], s.handlers[i])
		}
		b = binary.AppendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	return b
}

// writeParallel encodes chunks on workers goroutines and writes them in
// order; after a write error it stops encoding.
func (s *Snapshot) writeParallel(sw *snapWriter, chunks []snapRange, workers int) {
	type job struct {
		c    snapRange
		buf  []byte
		done chan struct{}
	}
	jobs := make(chan *job, 2*workers)
	ordered := make(chan *job, 2*workers)
	free := make(chan []byte, 4*workers)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(jobs)
		defer close(ordered)
		for _, c := range chunks {
			j := &job{c: c, done: make(chan struct{})}
			select {
			case ordered <- j:
			case <-quit:
				return
			}
			jobs <- j // workers drain jobs until it is closed
		}
	})
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				select {
				case j.buf = <-free:
				default:
					j.buf = make([]byte, 0, (j.c.to-j.c.from)*160) // typical record ≤ 150 B
				}
				j.buf = s.encode(j.buf[:0], j.c)
				close(j.done)
			}
		})
	}
	for j := range ordered {
		<-j.done
		if sw.err != nil {
			continue
		}
		sw.flushIfFull()
		sw.write(j.buf)
		select {
		case free <- j.buf:
		default:
		}
		if sw.err != nil {
			close(quit)
		}
	}
	wg.Wait()
}

// snapWriter buffers the output and keeps the running CRC of what it has
// flushed. Errors are sticky.
type snapWriter struct {
	w   io.Writer
	buf []byte
	crc uint32
	n   int64
	err error
}

func (sw *snapWriter) flushIfFull() {
	if len(sw.buf) >= 256<<10 {
		sw.flush(true)
	}
}

// write sends p after what is buffered, adding it to the CRC.
func (sw *snapWriter) write(p []byte) {
	sw.flush(true)
	if sw.err != nil {
		return
	}
	sw.crc = crc32.Update(sw.crc, crcTable, p)
	n, err := sw.w.Write(p)
	sw.n += int64(n)
	sw.err = err
}

func (sw *snapWriter) flush(crc bool) {
	if sw.err != nil || len(sw.buf) == 0 {
		sw.buf = sw.buf[:0]
		return
	}
	if crc {
		sw.crc = crc32.Update(sw.crc, crcTable, sw.buf)
	}
	n, err := sw.w.Write(sw.buf)
	sw.n += int64(n)
	sw.err = err
	sw.buf = sw.buf[:0]
}

// Restore replaces the whole state with the snapshot read from r (format
// version 2, or version 1). On error the FSM is left unchanged. Change feed
// cursors taken before a successful Restore are invalid afterwards.
func (f *FSM) Restore(r io.Reader) error {
	br := bufio.NewReaderSize(r, 256<<10)
	var next *FSM
	var err error
	if head, _ := br.Peek(len(snapMagic)); bytes.Equal(head, snapMagic) {
		next, err = restoreV2(br)
	} else {
		next, err = restoreV1(br)
	}
	if err != nil {
		return err
	}
	f.decodeMu.Lock()
	f.in = next.in
	f.decodeMu.Unlock()
	defer f.signal()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.feed.seq++ // a restore invalidates every cursor: readers rescan
	f.feed.floor = f.feed.seq
	f.applied, f.digest = next.applied, next.digest
	f.schedules = next.schedules
	f.nodes, f.handlers = next.nodes, next.handlers
	f.runs = next.runs
	return nil
}

// restoreSchedule adds a decoded snapshot schedule to a state being
// restored.
func (f *FSM) restoreSchedule(s *Schedule) error {
	if _, dup := f.schedules.insert(s); dup {
		return fmt.Errorf("%w: duplicate schedule %q in snapshot", ErrCorrupt, s.ID)
	}
	xorInto(&f.digest, f.hash.schedule(s))
	return nil
}

// restoreRun adds a decoded snapshot run to a state being restored.
func (f *FSM) restoreRun(r *Run) error {
	if _, dup := f.runs.byID[r.ID]; dup {
		return fmt.Errorf("%w: duplicate run %q in snapshot", ErrCorrupt, r.ID)
	}
	s, ok := f.schedules.get(r.ScheduleID)
	if !ok {
		return fmt.Errorf("%w: run %q of unknown schedule %q", ErrCorrupt, r.ID, r.ScheduleID)
	}
	r.ScheduleID = s.ID
	f.putRun(f.runListOf(s), r)
	return nil
}

func (f *FSM) restoreNode(n *NodeInfo) error {
	if _, dup := f.nodes[n.ID]; dup {
		return fmt.Errorf("%w: duplicate node %q in snapshot", ErrCorrupt, n.ID)
	}
	f.nodes[n.ID] = n
	xorInto(&f.digest, f.hash.node(n))
	return nil
}

func (f *FSM) restoreHandler(h *HandlerInfo) error {
	if _, dup := f.handlers[h.Instance]; dup {
		return fmt.Errorf("%w: duplicate handler %q in snapshot", ErrCorrupt, h.Instance)
	}
	f.putHandler(h)
	return nil
}
