package cluster

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEntrySizes_Trailing(t *testing.T) {
	t.Parallel()
	t.Run("UnknownSizesGiveTheUpperBound", func(t *testing.T) {
		s := newEntrySizes(100)
		require.Equal(t, uint64(100), s.trailing(10, 2, 100))
		s.record(1, 5)
		require.Equal(t, uint64(100), s.trailing(10, 2, 100), "every known entry fits")
	})
	t.Run("CountsNewestEntriesWithinBudget", func(t *testing.T) {
		s := newEntrySizes(100)
		for i := uint64(1); i <= 50; i++ {
			s.record(i, 100)
		}
		require.Equal(t, uint64(10), s.trailing(1000, 2, 100))
		require.Equal(t, uint64(10), s.trailing(1099, 2, 100))
		require.Equal(t, uint64(5), s.trailing(1000, 5, 5), "capped by hi")
		require.Equal(t, uint64(20), s.trailing(50, 20, 100), "at least lo")
	})
	t.Run("GapsCountAsEmpty", func(t *testing.T) {
		s := newEntrySizes(0) // ring of 1024
		for i := uint64(1); i <= 1024; i++ {
			s.record(i, 1000)
		}
		s.record(1030, 1000) // 1025…1029 were no-ops or barriers
		require.Equal(t, uint64(7), s.trailing(2500, 1, 10000), "1030, five empty slots, 1024")
	})
	t.Run("BytesSinceSnapshot", func(t *testing.T) {
		s := newEntrySizes(0)
		s.record(1, 10)
		s.record(2, 20)
		require.Equal(t, uint64(30), s.sinceSnapshot())
		s.markSnapshot()
		s.record(3, 5)
		require.Equal(t, uint64(5), s.sinceSnapshot())
		s.reset()
		require.Zero(t, s.sinceSnapshot())
		require.Equal(t, uint64(7), s.trailing(1, 7, 7))
	})
}

func TestJittered(t *testing.T) {
	t.Parallel()
	for range 100 {
		v := jittered(100)
		require.GreaterOrEqual(t, v, uint64(100))
		require.LessOrEqual(t, v, uint64(150))
	}
	require.GreaterOrEqual(t, jittered(math.MaxUint64-1), uint64(math.MaxUint64-1), "saturates instead of wrapping")
	require.LessOrEqual(t, jittered(1), uint64(1))
}
