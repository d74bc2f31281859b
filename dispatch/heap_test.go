package dispatch

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/trigger"
)

func newSched(i int, due int64) *schedState {
	return &schedState{s: &fsm.Schedule{ID: fmt.Sprintf("s%07d", i)}, due: due, index: -1}
}

// checkTimerHeap verifies the heap property and every recorded index.
func checkTimerHeap(t *testing.T, h timerHeap) {
	t.Helper()
	for i, ss := range h {
		require.Equal(t, int32(i), ss.index)
		if i > 0 {
			require.False(t, h.less(i, (i-1)/2), "heap property at %d", i)
		}
	}
}

func TestTimerHeap_Ops(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var h timerHeap
	var all []*schedState
	for i := range 2000 {
		ss := newSched(i, rng.Int64N(1000))
		all = append(all, ss)
		h.set(ss)
	}
	checkTimerHeap(t, h)
	for range 5000 {
		ss := all[rng.IntN(len(all))]
		switch rng.IntN(3) {
		case 0:
			h.remove(ss)
			h.remove(ss) // idempotent
		default:
			ss.due = rng.Int64N(1000)
			h.set(ss)
		}
	}
	checkTimerHeap(t, h)
	var got []*schedState
	for len(h) > 0 {
		got = append(got, h.pop())
	}
	require.True(t, slices.IsSortedFunc(got, func(a, b *schedState) int { return int(a.due - b.due) }))
	for _, ss := range got {
		require.Equal(t, int32(-1), ss.index)
	}
	// init builds the same order in O(n).
	h = append(h, all...)
	h.init()
	checkTimerHeap(t, h)
}

func TestRunHeap_Ops(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var h runHeap
	var all []*runState
	for i := range 1000 {
		rs := &runState{id: fmt.Sprintf("r%05d", i), hkey: rng.Int64N(100), hidx: -1}
		all = append(all, rs)
		h.push(rs)
	}
	for _, rs := range all[:300] {
		h.remove(rs)
	}
	prev := int64(-1)
	for len(h) > 0 {
		rs := h.pop()
		require.GreaterOrEqual(t, rs.hkey, prev)
		require.Equal(t, int32(-1), rs.hidx)
		prev = rs.hkey
	}
}

// TestJitter_MatchesFNV: the allocation-free jitter equals the original
// hash/fnv formulation (jitter is part of every run's committed DueAt).
func TestJitter_MatchesFNV(t *testing.T) {
	t.Parallel()
	trig, err := trigger.Compile(trigger.Spec{Every: "1h"}, time.Unix(0, 0))
	require.NoError(t, err)
	s := &fsm.Schedule{ID: "nightly-report", Policy: fsm.Policy{Jitter: fsm.Duration(10 * time.Minute)}}
	for _, n := range []time.Time{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2031, 6, 1, 13, 0, 0, 0, time.UTC)} {
		h := fnv.New64a()
		_, _ = h.Write([]byte(s.ID))
		_, _ = h.Write([]byte(n.UTC().Format(time.RFC3339Nano)))
		require.Equal(t, time.Duration(h.Sum64()%uint64(10*time.Minute)), jitter(s, trig, n))
	}
}

// BenchmarkTimerHeap measures the timer heap at 1M schedules.
//
// Allocation budget: 0 allocs/op for Set, Fix and PopPush.
func BenchmarkTimerHeap(b *testing.B) {
	const n = 1_000_000
	build := func() (timerHeap, []*schedState) {
		rng := rand.New(rand.NewPCG(5, 6))
		h := make(timerHeap, 0, n)
		all := make([]*schedState, n)
		for i := range all {
			all[i] = newSched(i, rng.Int64N(1<<40))
			h = append(h, all[i])
		}
		h.init()
		return h, all
	}
	b.Run("Init", func(b *testing.B) {
		_, all := build()
		b.ReportAllocs()
		for b.Loop() {
			h := timerHeap(all)
			h.init()
		}
	})
	b.Run("Fix", func(b *testing.B) {
		h, all := build()
		rng := rand.New(rand.NewPCG(7, 8))
		b.ReportAllocs()
		for b.Loop() {
			ss := all[rng.IntN(n)]
			ss.due = rng.Int64N(1 << 40)
			h.set(ss)
		}
	})
	b.Run("PopPush", func(b *testing.B) {
		h, _ := build()
		rng := rand.New(rand.NewPCG(9, 10))
		b.ReportAllocs()
		for b.Loop() {
			ss := h.pop()
			ss.due += rng.Int64N(1 << 30)
			h.set(ss)
		}
	})
	b.Run("RemoveSet", func(b *testing.B) {
		h, all := build()
		rng := rand.New(rand.NewPCG(11, 12))
		b.ReportAllocs()
		for b.Loop() {
			ss := all[rng.IntN(n)]
			h.remove(ss)
			h.set(ss)
		}
	})
}
