package fsm

// btree is an in-memory B-tree of T ordered by cmp, used for the ordered
// indexes (schedules by ID, runs by (nominal, ID)). It holds pointers, so an
// item costs ~8-12 bytes of index. It is not safe for concurrent mutation;
// the FSM's lock guards it.
//
// The algorithm is the classic one with pre-emptive splitting on the way
// down and stealing/merging on delete (as in github.com/google/btree), with
// one change: a full node on the right spine of the tree that receives an
// item greater than everything in the tree is split unevenly (all but one
// item stay left). Appending in order — schedule IDs created in sequence,
// runs in nominal order, a snapshot restored in index order — then leaves
// full nodes behind instead of half-full ones. Only the right spine is split
// this way, so no insertion pattern can leave more than one underfull node
// per level behind.
//
// Lookups take a key K, compared with items by cmp; key derives an item's
// key for inserts. (For the run index both are the *Run; the schedule index
// looks up by ID without building a *Schedule.)
type btree[K, T any] struct {
	root *bnode[T]
	n    int
	cmp  func(k K, item T) int
	key  func(item T) K
}

// btreeMinItems is the minimum fill of a non-root node (except on the right
// spine, see above); nodes hold at most 2*btreeMinItems+1 items.
const (
	btreeMinItems = 31
	btreeMaxItems = 2*btreeMinItems + 1
)

type bnode[T any] struct {
	items    []T
	children []*bnode[T] // nil for a leaf
}

func newBtree[K, T any](cmp func(k K, item T) int, key func(item T) K) *btree[K, T] {
	return &btree[K, T]{cmp: cmp, key: key}
}

func (t *btree[K, T]) newNode(leaf bool) *bnode[T] {
	n := &bnode[T]{items: make([]T, 0, btreeMaxItems)}
	if !leaf {
		n.children = make([]*bnode[T], 0, btreeMaxItems+1)
	}
	return n
}

// Len returns the number of items.
func (t *btree[K, T]) Len() int { return t.n }

// find returns the index of the first item ≥ key and whether it equals key.
func (t *btree[K, T]) find(n *bnode[T], key K) (int, bool) {
	items := n.items
	if len(items) == 0 {
		return 0, false
	}
	if t.cmp(key, items[len(items)-1]) > 0 {
		return len(items), false // appending: one comparison per level
	}
	lo, hi := 0, len(items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if t.cmp(key, items[m]) > 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(items) && t.cmp(key, items[lo]) == 0
}

// Get returns the item equal to key.
func (t *btree[K, T]) Get(key K) (T, bool) {
	for n := t.root; n != nil; {
		i, found := t.find(n, key)
		if found {
			return n.items[i], true
		}
		if n.children == nil {
			break
		}
		n = n.children[i]
	}
	var zero T
	return zero, false
}

// Set inserts item, or replaces the item equal to it and returns the old one.
func (t *btree[K, T]) Set(item T) (old T, replaced bool) { return t.Insert(item, true) }

// Insert inserts item. If an equal item exists it returns it (found) and
// replaces it only when replace is set.
func (t *btree[K, T]) Insert(item T, replace bool) (old T, found bool) {
	if t.root == nil {
		t.root = t.newNode(true)
		t.root.items = append(t.root.items, item)
		t.n++
		return old, false
	}
	key := t.key(item)
	if len(t.root.items) >= btreeMaxItems {
		if !replace {
			if v, ok := t.Get(key); ok {
				return v, true // no split for an item that is not inserted
			}
		}
		mid, right := t.split(t.root, t.splitPoint(t.root, key, true))
		left := t.root
		t.root = t.newNode(false)
		t.root.items = append(t.root.items, mid)
		t.root.children = append(t.root.children, left, right)
	}
	old, found = t.insert(t.root, key, item, true, replace)
	if !found {
		t.n++
	}
	return old, found
}

// splitPoint picks where to split the full node n before item goes below
// it: unevenly when item is appended at the far right of the tree.
func (t *btree[K, T]) splitPoint(n *bnode[T], key K, rightmost bool) int {
	if rightmost && t.cmp(key, n.items[len(n.items)-1]) > 0 {
		return len(n.items) - 2 // the right node keeps one item, so it is never empty
	}
	return btreeMaxItems / 2
}

// split cuts n at items[i]: n keeps items[:i], the returned node gets the
// items after i, and items[i] is returned for the parent.
func (t *btree[K, T]) split(n *bnode[T], i int) (T, *bnode[T]) {
	mid := n.items[i]
	right := t.newNode(n.children == nil)
	right.items = append(right.items, n.items[i+1:]...)
	clear(n.items[i:])
	n.items = n.items[:i]
	if n.children != nil {
		right.children = append(right.children, n.children[i+1:]...)
		clear(n.children[i+1:])
		n.children = n.children[:i+1]
	}
	return mid, right
}

func (t *btree[K, T]) insert(n *bnode[T], key K, item T, rightmost, replace bool) (old T, found bool) {
	for {
		i, found := t.find(n, key)
		if found {
			old = n.items[i]
			if replace {
				n.items[i] = item
			}
			return old, true
		}
		if n.children == nil {
			n.items = insertAt(n.items, i, item)
			return old, false
		}
		rightmost = rightmost && i == len(n.items)
		if child := n.children[i]; len(child.items) >= btreeMaxItems {
			mid, right := t.split(child, t.splitPoint(child, key, rightmost))
			n.items = insertAt(n.items, i, mid)
			n.children = insertAt(n.children, i+1, right)
			switch c := t.cmp(key, mid); {
			case c == 0:
				old = n.items[i]
				if replace {
					n.items[i] = item
				}
				return old, true
			case c > 0:
				i++
			default:
				rightmost = false
			}
		}
		n = n.children[i]
	}
}

func insertAt[S ~[]E, E any](s S, i int, v E) S {
	var zero E
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func removeAt[S ~[]E, E any](s S, i int) (S, E) {
	v := s[i]
	copy(s[i:], s[i+1:])
	var zero E
	s[len(s)-1] = zero
	return s[:len(s)-1], v
}

// Delete removes the item equal to key and returns it.
func (t *btree[K, T]) Delete(key K) (T, bool) {
	var zero T
	if t.root == nil {
		return zero, false
	}
	out, ok := t.remove(t.root, key, false)
	if len(t.root.items) == 0 {
		if t.root.children == nil {
			t.root = nil
		} else {
			t.root = t.root.children[0]
		}
	}
	if ok {
		t.n--
	}
	return out, ok
}

// remove deletes key (or, with max, the largest item) from the subtree at n.
// Before descending into a child with btreeMinItems items or fewer, it grows
// that child once (steal or merge), which leaves the child at least two
// items: enough that a merge inside it cannot empty it. (Only the root may
// be left without items; Delete then replaces it with its only child.)
func (t *btree[K, T]) remove(n *bnode[T], key K, max bool) (T, bool) {
	var zero T
	var noKey K
	grown := false
	for {
		var i int
		var found bool
		if max {
			if n.children == nil {
				var v T
				n.items, v = removeAt(n.items, len(n.items)-1)
				return v, true
			}
			i = len(n.items)
		} else {
			i, found = t.find(n, key)
			if n.children == nil {
				if !found {
					return zero, false
				}
				var v T
				n.items, v = removeAt(n.items, i)
				return v, true
			}
		}
		if !grown && len(n.children[i].items) <= btreeMinItems && len(n.items) > 0 {
			t.grow(n, i)
			grown = true
			continue // items moved between n and its children: search n again
		}
		grown = false
		child := n.children[i]
		if found {
			out := n.items[i]
			n.items[i], _ = t.remove(child, noKey, true) // the predecessor takes its place
			return out, true
		}
		n = child
	}
}

// grow gives n.children[i] at least one more item by stealing from a
// sibling that has more than btreeMinItems, or else by merging it with a
// sibling (both then have at most btreeMinItems, so the merge fits).
func (t *btree[K, T]) grow(n *bnode[T], i int) {
	switch {
	case i > 0 && len(n.children[i-1].items) > btreeMinItems:
		child, left := n.children[i], n.children[i-1]
		var stolen T
		left.items, stolen = removeAt(left.items, len(left.items)-1)
		child.items = insertAt(child.items, 0, n.items[i-1])
		n.items[i-1] = stolen
		if left.children != nil {
			var c *bnode[T]
			left.children, c = removeAt(left.children, len(left.children)-1)
			child.children = insertAt(child.children, 0, c)
		}
	case i < len(n.items) && len(n.children[i+1].items) > btreeMinItems:
		child, right := n.children[i], n.children[i+1]
		var stolen T
		right.items, stolen = removeAt(right.items, 0)
		child.items = append(child.items, n.items[i])
		n.items[i] = stolen
		if right.children != nil {
			var c *bnode[T]
			right.children, c = removeAt(right.children, 0)
			child.children = append(child.children, c)
		}
	default:
		if i >= len(n.items) {
			i--
		}
		child := n.children[i]
		var mid T
		n.items, mid = removeAt(n.items, i)
		var right *bnode[T]
		n.children, right = removeAt(n.children, i+1)
		child.items = append(child.items, mid)
		child.items = append(child.items, right.items...)
		child.children = append(child.children, right.children...)
	}
}

// Ascend calls fn for each item in order, starting at the first item
// greater than pivot (or at or after it when inclusive), until fn returns
// false. With hasPivot false it starts at the smallest item.
func (t *btree[K, T]) Ascend(pivot K, hasPivot, inclusive bool, fn func(T) bool) {
	if t.root != nil {
		t.ascend(t.root, pivot, hasPivot, inclusive, fn)
	}
}

func (t *btree[K, T]) ascend(n *bnode[T], pivot K, hasPivot, inclusive bool, fn func(T) bool) bool {
	i := 0
	if hasPivot {
		var found bool
		i, found = t.find(n, pivot)
		if found {
			if inclusive {
				if !fn(n.items[i]) {
					return false
				}
			}
			i++
			hasPivot = false // everything right of an exact match is greater
		}
	}
	for ; i <= len(n.items); i++ {
		if n.children != nil {
			if !t.ascend(n.children[i], pivot, hasPivot, inclusive, fn) {
				return false
			}
			hasPivot = false
		}
		if i < len(n.items) && !fn(n.items[i]) {
			return false
		}
	}
	return true
}

// Items appends every item in order to dst.
func (t *btree[K, T]) Items(dst []T) []T {
	t.Ascend(*new(K), false, false, func(v T) bool { dst = append(dst, v); return true })
	return dst
}
