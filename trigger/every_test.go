package trigger

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEvery_Next(t *testing.T) {
	t.Parallel()

	anchor := mustTime(t, "2025-01-01T00:00:00Z")
	tests := []struct {
		name, every, in, want string
	}{
		{"AtAnchorIsExclusive", "90m", "2025-01-01T00:00:00Z", "2025-01-01T01:30:00Z"},
		{"JustBeforeAnchor", "90m", "2024-12-31T23:59:59.999999999Z", "2025-01-01T00:00:00Z"},
		{"BeforeAnchorNegativeK", "90m", "2024-12-31T21:00:00Z", "2024-12-31T22:30:00Z"},
		{"OnAFire", "90m", "2025-01-01T03:00:00Z", "2025-01-01T04:30:00Z"},
		{"BetweenFires", "90m", "2025-01-01T03:00:01Z", "2025-01-01T04:30:00Z"},
		{"NoDriftAfterAYear", "7m", "2026-01-01T00:00:00Z", "2026-01-01T00:02:00Z"},
		{"FractionalInterval", "1.5s", "2025-01-01T00:00:02Z", "2025-01-01T00:00:03Z"},
		{"OffsetInputIsUTCOutput", "1h", "2025-01-01T05:30:00+05:30", "2025-01-01T01:00:00Z"},
		// Absolute time: 24h from before the New York spring gap lands an
		// hour later on the wall clock (robfig's @every agrees).
		{"DSTIgnored", "24h", "2025-03-08T09:00:00-05:00", "2025-03-09T00:00:00Z"},
		// More than 292 years from the anchor: time.Duration saturates.
		{"FarFuture", "1h", "2500-07-04T12:34:56Z", "2500-07-04T13:00:00Z"},
		{"FarPast", "7m", "1700-01-01T00:00:00Z", "1700-01-01T00:04:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			trig := mustCompile(t, Spec{Every: tt.every}, anchor)
			next, ok := trig.Next(mustTime(t, tt.in))
			require.True(t, ok)
			require.Equal(t, tt.want, next.Format(time.RFC3339Nano))
		})
	}

	t.Run("ZeroAnchorIsEpoch", func(t *testing.T) {
		t.Parallel()
		trig := mustCompile(t, Spec{Every: "7m"}, time.Time{})
		next, ok := trig.Next(mustTime(t, "2025-01-01T00:00:00Z"))
		require.True(t, ok)
		require.Zero(t, next.Unix()%(7*60))
		require.Equal(t, "2025-01-01T00:05:00Z", next.Format(time.RFC3339))
	})
	t.Run("AnchorLocationAndMonotonicIgnored", func(t *testing.T) {
		t.Parallel()
		ny, err := time.LoadLocation("America/New_York")
		require.NoError(t, err)
		trig := mustCompile(t, Spec{Every: "1h"}, time.Date(2025, 1, 1, 0, 15, 0, 0, ny))
		next, ok := trig.Next(mustTime(t, "2025-06-01T00:00:00Z"))
		require.True(t, ok)
		require.Equal(t, "2025-06-01T00:15:00Z", next.Format(time.RFC3339))
	})
	t.Run("BeforeZeroTime", func(t *testing.T) {
		t.Parallel()
		trig := mustCompile(t, Spec{Every: "1h"}, time.Time{})
		next, ok := trig.Next(time.Date(-100, 1, 1, 0, 0, 0, 0, time.UTC))
		require.True(t, ok)
		require.False(t, next.IsZero())
		require.Equal(t, "0001-01-01T01:00:00Z", next.Format(time.RFC3339))
	})
	t.Run("PastYear9999", func(t *testing.T) {
		t.Parallel()
		trig := mustCompile(t, Spec{Every: "24h"}, time.Time{})
		_, ok := trig.Next(mustTime(t, "9999-12-31T12:00:00Z"))
		require.False(t, ok)
	})
}
