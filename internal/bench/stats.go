package bench

import (
	"math"
	"slices"
	"time"
)

// Summary describes a distribution of durations in milliseconds.
type Summary struct {
	Count int     `json:"count"`
	Min   float64 `json:"min_ms"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Summarize computes the Summary of samples (not modified). An empty input
// gives the zero Summary.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum float64
	for _, d := range s {
		sum += float64(d)
	}
	return Summary{
		Count: len(s),
		Min:   millis(s[0]),
		Mean:  sum / float64(len(s)) / float64(time.Millisecond),
		P50:   millis(Percentile(s, 50)),
		P90:   millis(Percentile(s, 90)),
		P99:   millis(Percentile(s, 99)),
		Max:   millis(s[len(s)-1]),
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of
// sorted: the smallest sample such that at least p % of the samples are
// less than or equal to it. p ≤ 0 gives the minimum; an empty input 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// Median is the 50th percentile of samples (not modified).
func Median(samples []time.Duration) time.Duration {
	s := slices.Clone(samples)
	slices.Sort(s)
	return Percentile(s, 50)
}

// round3 rounds v to three decimals, so that reports carry no noise digits.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// millis converts d to fractional milliseconds, rounded to a microsecond.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
