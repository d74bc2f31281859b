package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPlanRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rate      float64
		interval  time.Duration
		schedules int
		spacing   time.Duration
	}{
		{"TenThousandPerSecond", 10000, time.Second, 10000, 100 * time.Microsecond},
		{"ThousandPerSecond", 1000, time.Second, 1000, time.Millisecond},
		{"LongerInterval", 1000, 5 * time.Second, 5000, time.Millisecond},
		{"FractionalRate", 2.5, 2 * time.Second, 5, 400 * time.Millisecond},
		{"BelowOnePerInterval", 0.1, time.Second, 1, time.Second},
		{"Rounds", 1000.4, time.Second, 1000, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := PlanRate(tt.rate, tt.interval)
			require.NoError(t, err)
			require.Equal(t, tt.schedules, p.Schedules)
			require.Equal(t, tt.interval, p.Interval)
			require.Equal(t, tt.spacing, p.Spacing())
		})
	}

	for name, args := range map[string]struct {
		rate     float64
		interval time.Duration
	}{
		"ZeroRate":      {0, time.Second},
		"NegativeRate":  {-5, time.Second},
		"ShortInterval": {100, 500 * time.Millisecond},
		"TooMany":       {1e6, time.Hour},
	} {
		_, err := PlanRate(args.rate, args.interval)
		require.Error(t, err, name)
	}
}

func TestPlan_OffsetsEvenlySpread(t *testing.T) {
	t.Parallel()
	for _, p := range []Plan{{Schedules: 1000, Interval: time.Second}, {Schedules: 7, Interval: time.Second},
		{Schedules: 3, Interval: 2 * time.Second}, {Schedules: 1, Interval: time.Second}} {
		// Fires of every schedule over one interval, modulo the interval:
		// one in every slot, each within one nanosecond of i·Spacing.
		require.Equal(t, time.Duration(0), p.Offset(0))
		for i := 0; i < p.Schedules; i++ {
			off := p.Offset(i)
			require.GreaterOrEqual(t, off, time.Duration(0))
			require.Less(t, off, p.Interval)
			ideal := float64(p.Interval) * float64(i) / float64(p.Schedules)
			require.InDelta(t, ideal, float64(off), 1, "schedule %d of %d", i, p.Schedules)
			if i > 0 {
				gap := off - p.Offset(i-1)
				require.InDelta(t, float64(p.Spacing()), float64(gap), 1)
			}
		}
		require.InDelta(t, float64(p.Schedules)/p.Interval.Seconds(), p.Rate(), 1e-9)
	}
}

func TestPlan_FireSchedule(t *testing.T) {
	t.Parallel()
	p := Plan{Schedules: 4, Interval: 2 * time.Second}
	anchor := time.Date(2026, 11, 27, 12, 0, 0, 0, time.FixedZone("X", 3600))
	end := anchor.Add(time.Hour)
	s := p.fireSchedule("szb-x-latency", 3, anchor, end)
	require.Equal(t, "szb-x-latency-3", s.ID)
	require.Equal(t, handlerName, s.Handler)
	require.Equal(t, handlerNoop, s.Method)
	require.Equal(t, "2s", s.Trigger.Every)
	require.Equal(t, time.Date(2026, 11, 27, 11, 0, 1, 500_000_000, time.UTC), *s.StartAt)
	require.Equal(t, end.UTC(), *s.EndAt)
	require.Equal(t, 0, s.Policy.MaxRetries)
	require.Equal(t, historyLimit, s.Policy.HistoryLimit)

	start := anchor.Add(10 * 365 * 24 * time.Hour)
	idle := idleSchedule("szb-x-scale", 42, start)
	require.Equal(t, "szb-x-scale-42", idle.ID)
	require.Equal(t, "24h", idle.Trigger.Every)
	require.Equal(t, start.UTC(), *idle.StartAt)
	require.Nil(t, idle.EndAt)
	require.JSONEq(t, `{"n":42}`, string(idle.Params))
}
