package dispatch

// Two indexed binary min-heaps own the leader's deadlines: timerHeap holds
// schedules by due time, runHeap holds runs (a ready queue per handler
// name, ordered by due time, and one deadline heap for accept timeouts,
// attempt timeouts, back-off and adoption holds). Every element records its
// position, so fix and remove are O(log n) without a search and nothing is
// ever scanned. Both are written out for their element type (no generics,
// no interface calls): the timer heap holds every schedule, a million of
// them in the performance target.
//
// Allocation budget: 0 allocs per push, pop, fix or remove once the
// backing slice has grown (BenchmarkTimerHeap).

// timerHeap orders schedules by due time. Ties are not broken: many
// schedules share a due time (every `0 * * * *` cron at the top of the
// hour), and comparing their IDs would dominate the heap's cost. The order
// among them does not matter: they are decided in the same step, and their
// runs are dispatched in (due, run ID) order by the ready queues.
type timerHeap []*schedState

func (h timerHeap) less(i, j int) bool { return h[i].due < h[j].due }

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = int32(i), int32(j)
}

func (h timerHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			return
		}
		h.swap(i, j)
		j = i
	}
}

func (h timerHeap) down(i int) bool {
	i0, n := i, len(h)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && h.less(r, j) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// init orders an arbitrary slice in O(n) and sets every index.
func (h timerHeap) init() {
	for i, ss := range h {
		ss.index = int32(i)
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// set puts ss at its (new) due time: push when absent, fix when present.
func (h *timerHeap) set(ss *schedState) {
	if ss.index >= 0 {
		if !h.down(int(ss.index)) {
			h.up(int(ss.index))
		}
		return
	}
	ss.index = int32(len(*h))
	*h = append(*h, ss)
	h.up(len(*h) - 1)
}

// remove takes ss out of the heap; a no-op when it is absent.
func (h *timerHeap) remove(ss *schedState) {
	i := int(ss.index)
	if i < 0 {
		return
	}
	old := *h
	n := len(old) - 1
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	ss.index = -1
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
}

// pop removes and returns the earliest schedule; the heap must not be empty.
func (h *timerHeap) pop() *schedState {
	ss := (*h)[0]
	h.remove(ss)
	return ss
}

// runHeap orders runs by (hkey, ID). A run is in at most one runHeap at a
// time (runState.where says which kind), so one index field serves all.
type runHeap []*runState

func (h runHeap) less(i, j int) bool {
	a, b := h[i], h[j]
	if a.hkey != b.hkey {
		return a.hkey < b.hkey
	}
	return a.id < b.id
}

func (h runHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = int32(i), int32(j)
}

func (h runHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			return
		}
		h.swap(i, j)
		j = i
	}
}

func (h runHeap) down(i int) bool {
	i0, n := i, len(h)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && h.less(r, j) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

func (h *runHeap) push(rs *runState) {
	rs.hidx = int32(len(*h))
	*h = append(*h, rs)
	h.up(len(*h) - 1)
}

func (h *runHeap) remove(rs *runState) {
	i := int(rs.hidx)
	if i < 0 {
		return
	}
	old := *h
	n := len(old) - 1
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	rs.hidx = -1
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h *runHeap) pop() *runState {
	rs := (*h)[0]
	h.remove(rs)
	return rs
}
