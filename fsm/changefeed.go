package fsm

// ChangeKind says what a Change names.
type ChangeKind uint8

// Change kinds.
const (
	// ChangeSchedule: a schedule was created, updated (including its
	// high-water mark), paused, resumed or deleted.
	ChangeSchedule ChangeKind = iota + 1
	// ChangeRun: a run was created, advanced or forgotten.
	ChangeRun
	// ChangeHandler: a handler instance was registered or expired.
	ChangeHandler
)

// Change names one record changed by Apply. The change feed is local
// bookkeeping for the leader's dispatcher (it replaces periodic rescans of
// the whole state); it is not part of the replicated state or the digest.
type Change struct {
	Kind ChangeKind
	ID   string
}

// changeFeedSize is how many changes the feed retains. A reader that falls
// further behind gets ok=false from ChangesSince and must rescan.
const changeFeedSize = 1 << 16

// changeFeed is a ring of the most recent changes. seq counts every change
// ever recorded; the change with sequence number s (1-based) lives at
// buf[(s-1)%changeFeedSize]. Cursors at or before floor are invalid
// (Restore replaced the state wholesale).
type changeFeed struct {
	buf    []Change
	seq    uint64
	floor  uint64
	notify chan struct{}
}

func newChangeFeed() changeFeed {
	return changeFeed{notify: make(chan struct{}, 1)}
}

// note records a change; the caller holds the write lock.
func (f *FSM) note(kind ChangeKind, id string) {
	c := &f.feed
	if c.buf == nil {
		c.buf = make([]Change, changeFeedSize)
	}
	c.buf[c.seq%changeFeedSize] = Change{Kind: kind, ID: id}
	c.seq++
}

// signal wakes a ChangeNotify reader; called after the write lock is released.
func (f *FSM) signal() {
	select {
	case f.feed.notify <- struct{}{}:
	default:
	}
}

// ChangeCursor returns the cursor of the newest change: ChangesSince(cursor)
// returns what changes after this call.
func (f *FSM) ChangeCursor() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.feed.seq
}

// ChangesSince appends to dst the changes recorded after cursor, at most
// max of them (max <= 0 means all), and returns the cursor to pass next
// time. ok is false when cursor is no longer covered (the reader fell more
// than the feed's size behind, or a snapshot was restored): the reader must
// then rescan the whole state and continue from ChangeCursor taken before
// the rescan. The same ID may appear several times.
func (f *FSM) ChangesSince(cursor uint64, dst []Change, max int) (out []Change, next uint64, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	c := &f.feed
	if cursor > c.seq || cursor < c.floor || c.seq-cursor > changeFeedSize {
		return dst, c.seq, false
	}
	end := c.seq
	if max > 0 && end-cursor > uint64(max) {
		end = cursor + uint64(max)
	}
	for s := cursor; s < end; s++ {
		dst = append(dst, c.buf[s%changeFeedSize])
	}
	return dst, end, true
}

// ChangeNotify returns a channel that receives a value (coalesced, never
// blocking Apply) after an Apply or Restore that recorded changes.
func (f *FSM) ChangeNotify() <-chan struct{} { return f.feed.notify }
