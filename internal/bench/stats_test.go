package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ms2d(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, f := range v {
		out[i] = time.Duration(f * float64(time.Millisecond))
	}
	return out
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ten := ms2d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"Empty", nil, 50, 0},
		{"One", ms2d(7), 99, 7 * time.Millisecond},
		{"MedianEven", ten, 50, 5 * time.Millisecond},
		{"P90", ten, 90, 9 * time.Millisecond},
		{"P99RoundsUp", ten, 99, 10 * time.Millisecond},
		{"P100", ten, 100, 10 * time.Millisecond},
		{"P0IsMin", ten, 0, time.Millisecond},
		{"P1", ten, 1, time.Millisecond},
		{"P11", ten, 11, 2 * time.Millisecond},
		{"MedianOdd", ms2d(1, 2, 3), 50, 2 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Percentile(tt.sorted, tt.p))
		})
	}

	t.Run("Hundred", func(t *testing.T) {
		t.Parallel()
		var s []time.Duration
		for i := 1; i <= 100; i++ {
			s = append(s, time.Duration(i)*time.Millisecond)
		}
		require.Equal(t, 50*time.Millisecond, Percentile(s, 50))
		require.Equal(t, 99*time.Millisecond, Percentile(s, 99))
		require.Equal(t, 100*time.Millisecond, Percentile(s, 99.5))
	})
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	require.Equal(t, Summary{}, Summarize(nil))

	in := ms2d(10, 1, 3, 2, 4, 5, 9, 8, 7, 6)
	orig := append([]time.Duration(nil), in...)
	got := Summarize(in)
	require.Equal(t, Summary{Count: 10, Min: 1, Mean: 5.5, P50: 5, P90: 9, P99: 10, Max: 10}, got)
	require.Equal(t, orig, in, "the input is not reordered")

	require.Equal(t, 1.235, Summarize([]time.Duration{1234567 * time.Nanosecond}).P50, "rounded to a microsecond")
	require.Equal(t, 3*time.Millisecond, Median(ms2d(5, 1, 3)))
}
