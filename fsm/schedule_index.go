package fsm

import (
	"cmp"
	"strings"
)

// scheduleIndex holds the schedules in ID order. It is the only index of
// schedules — no map besides it — which costs one B-tree slot per schedule
// (24 B, ~25-35 B with the nodes' free space) instead of a map slot plus an
// index slot (~50 B), and O(log n) instead of O(1) per lookup (4 levels of
// 63-item nodes at a million schedules).
//
// An item carries the first 16 bytes of the ID inline (big-endian,
// zero-padded), so comparisons inside a node decide on two integers
// without loading the schedule; only IDs that share those 16 bytes — and
// the final equality check of a lookup — compare the ID itself.
type scheduleIndex struct{ t *btree[schedKey, schedItem] }

type schedItem struct {
	hi, lo uint64
	s      *Schedule
}

type schedKey struct {
	hi, lo uint64
	id     string
}

func keyOfID(id string) schedKey {
	var b [16]byte
	copy(b[:], id)
	k := schedKey{id: id}
	for i := range 8 {
		k.hi = k.hi<<8 | uint64(b[i])
		k.lo = k.lo<<8 | uint64(b[8+i])
	}
	return k
}

func schedItemKey(it schedItem) schedKey { return schedKey{it.hi, it.lo, it.s.ID} }

func schedItemCmp(k schedKey, it schedItem) int {
	if c := cmp.Compare(k.hi, it.hi); c != 0 {
		return c
	}
	if c := cmp.Compare(k.lo, it.lo); c != 0 {
		return c
	}
	return strings.Compare(k.id, it.s.ID)
}

func newScheduleIndex() scheduleIndex {
	return scheduleIndex{t: newBtree(schedItemCmp, schedItemKey)}
}

func itemOf(s *Schedule) schedItem {
	k := keyOfID(s.ID)
	return schedItem{k.hi, k.lo, s}
}

func (x scheduleIndex) len() int { return x.t.Len() }

func (x scheduleIndex) get(id string) (*Schedule, bool) {
	it, ok := x.t.Get(keyOfID(id))
	return it.s, ok
}

// insert adds s unless a schedule with its ID exists, which it returns.
func (x scheduleIndex) insert(s *Schedule) (*Schedule, bool) {
	old, found := x.t.Insert(itemOf(s), false)
	return old.s, found
}

// set adds or replaces s.
func (x scheduleIndex) set(s *Schedule) { x.t.Insert(itemOf(s), true) }

func (x scheduleIndex) delete(id string) { x.t.Delete(keyOfID(id)) }

// ascend calls fn for each schedule with an ID greater than after (all when
// after is ""), in ID order, until fn returns false.
func (x scheduleIndex) ascend(after string, fn func(*Schedule) bool) {
	x.t.Ascend(keyOfID(after), after != "", false, func(it schedItem) bool { return fn(it.s) })
}

// items appends every schedule in ID order to dst.
func (x scheduleIndex) items(dst []*Schedule) []*Schedule {
	x.ascend("", func(s *Schedule) bool { dst = append(dst, s); return true })
	return dst
}
