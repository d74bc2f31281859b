package fsm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
)

// Restoring a version-2 snapshot is a pipeline (DESIGN.md "Snapshots"):
//
//	reader goroutine ─ chunks of raw records ─▶ decode workers (parallel):
//	  decode, re-encode and compare (canonical?), hash; for runs, look up
//	  their schedule (once every schedule is in: schedsDone)
//	─▶ this goroutine, in stream order: order/duplicate/reference checks,
//	   insert into the maps and indexes, XOR the chunk digests
//
// Every state change happens on one goroutine in stream order, so the
// result does not depend on scheduling; the workers only turn bytes into
// values and hashes, and read the schedule positions after their last
// write. The restored digest is computed from the records, then compared
// with the digest the writer recorded: a snapshot that decodes but does not
// reproduce the state it was taken from is rejected, never silently
// restored.

const (
	chunkRecords = 2048
	chunkBytes   = 1 << 20
	// maxRecordBytes bounds one record, like MaxEntryBytes bounds the event
	// that created it.
	maxRecordBytes = MaxEntryBytes
)

type snapChunk struct {
	kind byte
	data []byte
	ends []int // end offset in data of each record

	// set by a worker before done is closed
	scheds   []*Schedule
	runs     []*Run
	runOf    []int // runOf[i]: the position of runs[i]'s schedule in ID order
	nodes    []*NodeInfo
	handlers []*HandlerInfo
	digest   [sha256.Size]byte
	err      error
	done     chan struct{}
}

type snapHeader struct {
	index                            uint64
	schedules, nodes, runs, handlers uint64
}

// snapReader frames records and keeps the CRC of every byte consumed.
type snapReader struct {
	br  *bufio.Reader
	crc uint32
}

// consume advances past n buffered bytes p (from Peek) and adds them to the
// CRC.
func (r *snapReader) consume(p []byte) {
	r.crc = crc32.Update(r.crc, crcTable, p)
	_, _ = r.br.Discard(len(p))
}

func (r *snapReader) uvarint() (uint64, error) {
	p, err := r.br.Peek(binary.MaxVarintLen64)
	if len(p) == 0 {
		return 0, unexpectedEOF(err)
	}
	v, n := binary.Uvarint(p)
	if n <= 0 {
		if n == 0 && err != nil {
			return 0, unexpectedEOF(err)
		}
		return 0, errors.New("bad varint")
	}
	r.consume(p[:n])
	return v, nil
}

// record appends the next record's body to dst.
func (r *snapReader) record(dst []byte) ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return dst, err
	}
	if n > maxRecordBytes {
		return dst, fmt.Errorf("record of %d bytes", n)
	}
	if int(n) <= r.br.Size() {
		p, err := r.br.Peek(int(n))
		if len(p) < int(n) {
			return dst, unexpectedEOF(err)
		}
		dst = append(dst, p...)
		r.consume(p)
		return dst, nil
	}
	// A record larger than the buffer: grow dst as the bytes arrive, so a
	// forged length costs no more memory than the stream really has.
	for n > 0 {
		p, err := r.br.Peek(min(int(n), r.br.Size()))
		if len(p) == 0 {
			return dst, unexpectedEOF(err)
		}
		dst = append(dst, p...)
		r.consume(p)
		n -= uint64(len(p))
	}
	return dst, nil
}

func unexpectedEOF(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *snapReader) header() (snapHeader, error) {
	var h snapHeader
	p, _ := r.br.Peek(len(snapMagic))
	r.consume(p)
	for _, dst := range []*uint64{&h.index, &h.schedules, &h.nodes, &h.runs, &h.handlers} {
		v, err := r.uvarint()
		if err != nil {
			return h, err
		}
		*dst = v
	}
	return h, nil
}

func restoreV2(br *bufio.Reader) (*FSM, error) {
	sr := &snapReader{br: br}
	hdr, err := sr.header()
	if err != nil {
		return nil, fmt.Errorf("%w: snapshot header: %w", ErrCorrupt, err)
	}
	// The decode workers do most of the work; this goroutine's inserts and
	// the reader's framing are lighter, so one worker per core.
	workers := min(runtime.GOMAXPROCS(0), 4)
	work := make(chan *snapChunk, 2*workers)
	ordered := make(chan *snapChunk, 4*workers)
	quit := make(chan struct{})
	schedsDone := make(chan struct{}) // closed by finishSchedules after the last schedule
	free := make(chan []byte, 8*workers)
	next := New()
	next.applied = hdr.index
	// rs.position maps schedule IDs to their position; written before
	// schedsDone is closed, read by the workers after.
	rs := &restorer{f: next, schedsDone: schedsDone}
	var trailer struct {
		digest [sha256.Size]byte
		err    error
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(work)
		defer close(ordered)
		trailer.err = readChunks(sr, hdr, work, ordered, quit, free)
		if trailer.err == nil {
			trailer.digest, trailer.err = readTrailer(sr)
		}
	})
	interners := make([]*interner, workers)
	for i := range workers {
		interners[i] = newInterner()
		wg.Go(func() {
			dec := recordDecoder{in: interners[i]}
			var h hasher
			for c := range work {
				c.decode(&dec, &h)
				if c.err == nil && c.kind == kindRun {
					select {
					case <-schedsDone:
						c.resolve(rs.position)
					case <-quit:
						c.err = errors.New("aborted")
					}
				}
				select {
				case free <- c.data[:0]:
				default:
				}
				c.data, c.ends = nil, nil
				close(c.done)
			}
		})
	}
	next.in = interners[0]
	err = rs.insertChunks(ordered)
	close(quit)
	for range ordered { // let the reader finish if it is blocked on a send
	}
	wg.Wait()
	if err == nil {
		err = trailer.err
	}
	if err == nil && trailer.digest != next.digest {
		err = errors.New("the records do not hash to the digest the snapshot was taken with")
	}
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: snapshot: %w", ErrCorrupt, err)
	}
	return next, nil
}

// readChunks reads the four record sections into chunks and hands each to
// the workers and, in order, to the inserting goroutine.
func readChunks(sr *snapReader, hdr snapHeader, work, ordered chan<- *snapChunk, quit <-chan struct{}, free chan []byte) error {
	sections := []struct {
		kind byte
		n    uint64
	}{{kindSchedule, hdr.schedules}, {kindNode, hdr.nodes}, {kindRun, hdr.runs}, {kindHandler, hdr.handlers}}
	for _, sec := range sections {
		for left := sec.n; left > 0; {
			c := &snapChunk{kind: sec.kind, done: make(chan struct{}), ends: make([]int, 0, min(left, chunkRecords))}
			select {
			case c.data = <-free:
			default:
				c.data = make([]byte, 0, 64<<10) // grows; recycled through free
			}
			for left > 0 && len(c.ends) < chunkRecords && len(c.data) < chunkBytes {
				var err error
				if c.data, err = sr.record(c.data); err != nil {
					return err
				}
				c.ends = append(c.ends, len(c.data))
				left--
			}
			select {
			case ordered <- c:
			case <-quit:
				return nil
			}
			select {
			case work <- c:
			case <-quit:
				c.err = errors.New("aborted")
				close(c.done)
				return nil
			}
		}
	}
	return nil
}

func readTrailer(sr *snapReader) (digest [sha256.Size]byte, err error) {
	p, err := sr.br.Peek(sha256.Size)
	if len(p) < sha256.Size {
		return digest, unexpectedEOF(err)
	}
	copy(digest[:], p)
	sr.consume(p)
	p, err = sr.br.Peek(4)
	if len(p) < 4 {
		return digest, unexpectedEOF(err)
	}
	if binary.LittleEndian.Uint32(p) != sr.crc {
		return digest, errors.New("checksum mismatch")
	}
	_, _ = sr.br.Discard(4)
	if _, err := sr.br.Peek(1); err != io.EOF {
		return digest, errors.New("data after the end of the snapshot")
	}
	return digest, nil
}

// decode turns the chunk's records into values and hashes, rejecting any
// record whose bytes are not the canonical encoding of what they decode
// to (so the hash of the bytes is the hash Apply will compute).
func (c *snapChunk) decode(d *recordDecoder, h *hasher) {
	switch c.kind {
	case kindSchedule:
		c.scheds = make([]*Schedule, 0, len(c.ends))
	case kindRun:
		c.runs = make([]*Run, 0, len(c.ends))
	}
	start := 0
	for i, end := range c.ends {
		body := c.data[start:end]
		start = end
		var err error
		h.buf = append(h.buf[:0], c.kind)
		switch c.kind {
		case kindSchedule:
			var s *Schedule
			if s, err = d.schedule(body); err == nil {
				c.scheds = append(c.scheds, s)
				h.buf = appendSchedule(h.buf, s)
			}
		case kindRun:
			var r *Run
			if r, err = d.run(body); err == nil {
				c.runs = append(c.runs, r)
				h.buf = appendRun(h.buf, r)
			}
		case kindNode:
			var n *NodeInfo
			if n, err = d.node(body); err == nil {
				c.nodes = append(c.nodes, n)
				h.buf = appendNode(h.buf, n)
			}
		case kindHandler:
			var v *HandlerInfo
			if v, err = d.handler(body); err == nil {
				c.handlers = append(c.handlers, v)
				h.buf = appendHandler(h.buf, v)
			}
		}
		if err == nil && !bytes.Equal(h.buf[1:], body) {
			err = errors.New("non-canonical encoding")
		}
		if err != nil {
			c.err = fmt.Errorf("%w: snapshot record %d of kind %q: %w", ErrCorrupt, i, c.kind, err)
			return
		}
		xorInto(&c.digest, h.sum())
	}
}

// resolve finds the schedule of each run: its position in ID order.
func (c *snapChunk) resolve(position map[string]int) {
	c.runOf = make([]int, len(c.runs))
	for i, r := range c.runs {
		j, found := position[r.ScheduleID]
		if !found {
			c.err = fmt.Errorf("%w: run %q of unknown schedule %q", ErrCorrupt, r.ID, r.ScheduleID)
			return
		}
		c.runOf[i] = j
	}
}

// restorer builds the state from decoded chunks, in stream order, on one
// goroutine.
type restorer struct {
	f          *FSM
	sorted     []schedItem    // the schedules in ID order
	position   map[string]int // schedule ID → position in sorted, for resolve
	lists      []*runList     // lists[i]: the runs of sorted[i].s
	runs       []*Run         // every run, in (nominal, ID) order
	schedsDone chan struct{}
	prevSched  *Schedule
}

// finishSchedules is called once no schedule is left to insert: it builds
// r.position (at its final size: no rehashing), which the workers read
// from then on to resolve runs.
func (r *restorer) finishSchedules(runsFollow bool) {
	select {
	case <-r.schedsDone:
		return
	default:
	}
	if runsFollow {
		r.position = make(map[string]int, len(r.sorted))
		for i, it := range r.sorted {
			r.position[it.s.ID] = i
		}
	}
	close(r.schedsDone)
}

// insertChunks adds the decoded chunks to the state in stream order.
func (r *restorer) insertChunks(ordered <-chan *snapChunk) error {
	defer r.finishSchedules(false)
	f := r.f
	for c := range ordered {
		if c.kind != kindSchedule {
			r.finishSchedules(c.kind == kindRun || c.kind == kindNode)
		}
		<-c.done
		if c.err != nil {
			return c.err
		}
		xorInto(&f.digest, c.digest)
		for _, s := range c.scheds {
			if r.prevSched != nil && r.prevSched.ID >= s.ID {
				return fmt.Errorf("%w: schedule %q out of order in snapshot", ErrCorrupt, s.ID)
			}
			r.prevSched = s
			it := itemOf(s)
			f.schedules.t.Insert(it, true)
			r.sorted = append(r.sorted, it)
		}
		for _, n := range c.nodes {
			if _, dup := f.nodes[n.ID]; dup {
				return fmt.Errorf("%w: duplicate node %q in snapshot", ErrCorrupt, n.ID)
			}
			f.nodes[n.ID] = n
		}
		if err := r.insertRuns(c); err != nil {
			return err
		}
		for _, h := range c.handlers {
			if _, dup := f.handlers[h.Instance]; dup {
				return fmt.Errorf("%w: duplicate handler %q in snapshot", ErrCorrupt, h.Instance)
			}
			f.handlers[h.Instance] = h
		}
	}
	return r.indexRuns()
}

// insertRuns adds a chunk of runs; each sorts after the runs added before,
// and the digest already holds their hashes. The maps by ID come last
// (indexRuns), built at their final size: growing them run by run
// rehashed every key several times, the largest cost of a restore.
func (r *restorer) insertRuns(c *snapChunk) error {
	if len(c.runs) > 0 && r.lists == nil {
		r.lists = make([]*runList, len(r.sorted))
	}
	x := &r.f.runs
	for i, run := range c.runs {
		if n := len(r.runs); n > 0 && runCmp(r.runs[n-1], run) >= 0 {
			return fmt.Errorf("%w: run %q out of order in snapshot", ErrCorrupt, run.ID)
		}
		r.runs = append(r.runs, run)
		j := c.runOf[i]
		s := r.sorted[j].s
		run.ScheduleID = s.ID
		l := r.lists[j]
		if l == nil {
			l = &runList{}
			l.setPolicy(&s.Policy)
			r.lists[j] = l
		}
		l.runs = append(l.runs, run)
		l.count(run, 1)
		if run.Status.Terminal() {
			l.noteTerminal(len(l.runs) - 1)
		} else {
			x.active[run.ID] = run
		}
		x.ordered.Set(run)
	}
	return nil
}

// indexRuns builds the maps of runs by ID and of run lists by schedule.
func (r *restorer) indexRuns() error {
	x := &r.f.runs
	x.byID = make(map[string]*Run, len(r.runs))
	for _, run := range r.runs {
		if _, dup := x.byID[run.ID]; dup {
			return fmt.Errorf("%w: duplicate run %q in snapshot", ErrCorrupt, run.ID)
		}
		x.byID[run.ID] = run
	}
	n := 0
	for _, l := range r.lists {
		if l != nil {
			n++
		}
	}
	x.bySched = make(map[string]*runList, n)
	for i, l := range r.lists {
		if l != nil {
			x.bySched[r.sorted[i].s.ID] = l
		}
	}
	return nil
}
