package fsm

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkBtree verifies the structure: items in order, children = items+1,
// every leaf at the same depth, no non-root node without items, and the
// count.
func checkBtree(t *testing.T, tr *btree[int, int]) []int {
	t.Helper()
	var all []int
	leafDepth := -1
	var walk func(n *bnode[int], depth int, root bool)
	walk = func(n *bnode[int], depth int, root bool) {
		if !root {
			require.NotEmpty(t, n.items, "non-root node without items")
		}
		require.LessOrEqual(t, len(n.items), btreeMaxItems)
		if n.children == nil {
			if leafDepth < 0 {
				leafDepth = depth
			}
			require.Equal(t, leafDepth, depth, "leaves at different depths")
			all = append(all, n.items...)
			return
		}
		require.Len(t, n.children, len(n.items)+1)
		for i, c := range n.children {
			walk(c, depth+1, false)
			if i < len(n.items) {
				all = append(all, n.items[i])
			}
		}
	}
	if tr.root != nil {
		walk(tr.root, 0, true)
	}
	require.True(t, slices.IsSorted(all))
	require.Len(t, all, tr.Len())
	for i := 1; i < len(all); i++ {
		require.NotEqual(t, all[i-1], all[i])
	}
	return all
}

func TestBtree_Model(t *testing.T) {
	patterns := map[string]func(r *rand.Rand, i int) int{
		"Random":     func(r *rand.Rand, _ int) int { return r.IntN(5000) },
		"Ascending":  func(_ *rand.Rand, i int) int { return i },
		"Descending": func(_ *rand.Rand, i int) int { return 1_000_000 - i },
		// Appends at the right edge interleaved with inserts just below
		// it: the pattern that would defeat an uneven split anywhere but
		// on the right spine.
		"SawTooth": func(_ *rand.Rand, i int) int {
			if i%2 == 0 {
				return 1_000_000 + i
			}
			return 1_000_000 - i
		},
	}
	for name, next := range patterns {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			tr := newBtree(cmp.Compare[int], func(v int) int { return v })
			model := map[int]bool{}
			for i := range 20_000 {
				k := next(r, i)
				if r.IntN(4) == 0 && len(model) > 0 {
					// delete something that exists, or not
					if r.IntN(2) == 0 {
						k = r.IntN(5000)
					}
					_, ok := tr.Delete(k)
					require.Equal(t, model[k], ok)
					delete(model, k)
				} else {
					_, replaced := tr.Set(k)
					require.Equal(t, model[k], replaced)
					model[k] = true
				}
				if i%4999 == 0 {
					checkBtree(t, tr)
				}
			}
			got := checkBtree(t, tr)
			want := make([]int, 0, len(model))
			for k := range model {
				want = append(want, k)
			}
			slices.Sort(want)
			require.Equal(t, want, got)
			for _, k := range want[:min(len(want), 50)] {
				v, ok := tr.Get(k)
				require.True(t, ok)
				require.Equal(t, k, v)
			}
			// drain in random order
			r.Shuffle(len(want), func(i, j int) { want[i], want[j] = want[j], want[i] })
			for i, k := range want {
				_, ok := tr.Delete(k)
				require.True(t, ok)
				if i%500 == 0 {
					checkBtree(t, tr)
				}
			}
			require.Equal(t, 0, tr.Len())
			require.Nil(t, tr.root)
		})
	}
}

func TestBtree_AppendFillsNodes(t *testing.T) {
	tr := newBtree(cmp.Compare[int], func(v int) int { return v })
	for i := range 100_000 {
		tr.Set(i)
	}
	checkBtree(t, tr)
	nodes := 0
	var walk func(n *bnode[int])
	walk = func(n *bnode[int]) {
		nodes++
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(tr.root)
	// ≥ 95% full: the uneven split on the right spine leaves full nodes.
	require.Less(t, nodes, 100_000/(btreeMaxItems*95/100)+10)
}

func TestBtree_Ascend(t *testing.T) {
	tr := newBtree(cmp.Compare[int], func(v int) int { return v })
	for i := 0; i < 3000; i += 3 {
		tr.Set(i)
	}
	collect := func(pivot int, has, incl bool, limit int) []int {
		var out []int
		tr.Ascend(pivot, has, incl, func(v int) bool {
			out = append(out, v)
			return len(out) < limit
		})
		return out
	}
	require.Equal(t, []int{0, 3, 6}, collect(0, false, false, 3))
	require.Equal(t, []int{303, 306}, collect(300, true, false, 2))
	require.Equal(t, []int{300, 303}, collect(300, true, true, 2))
	require.Equal(t, []int{303, 306}, collect(301, true, true, 2))
	require.Empty(t, collect(2997, true, false, 2))
	require.Len(t, collect(-1, true, false, 5000), 1000)
	for p := -1; p < 3001; p++ {
		got := collect(p, true, false, 1)
		want := (p/3 + 1) * 3
		if p < 0 {
			want = 0
		}
		if want >= 3000 {
			require.Empty(t, got)
		} else {
			require.Equal(t, []int{want}, got, "pivot %d", p)
		}
	}
}

// TestScheduleIndex_Order: the inline 16-byte key orders IDs exactly as
// strings compare, including IDs that share it (prefixes, NUL bytes, long
// common prefixes).
func TestScheduleIndex_Order(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{0, 1, 'a', 'b', 0x7f, 0x80, 0xff}
	x := newScheduleIndex()
	want := map[string]bool{}
	for range 20_000 {
		n := r.IntN(22)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		if r.IntN(3) == 0 && n > 0 {
			copy(b, "0123456789abcdef0123")
		}
		id := string(b)
		if id == "" {
			continue
		}
		if r.IntN(5) == 0 {
			x.delete(id)
			delete(want, id)
			continue
		}
		_, found := x.insert(&Schedule{ID: id})
		require.Equal(t, want[id], found)
		want[id] = true
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
		s, ok := x.get(id)
		require.True(t, ok)
		require.Equal(t, id, s.ID)
	}
	slices.Sort(ids)
	var got []string
	for _, s := range x.items(nil) {
		got = append(got, s.ID)
	}
	require.Equal(t, ids, got)
	for i := 0; i < len(ids); i += 97 {
		var page []string
		x.ascend(ids[i], func(s *Schedule) bool { page = append(page, s.ID); return len(page) < 3 })
		require.Equal(t, ids[i+1:min(i+4, len(ids))], page)
	}
}
