package trigger

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// farFuture bounds fires() when a case lists its expected count instead.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// TestCron_Next covers the edge cases of semantics.md section 5.1 (values from
// the brute-force reference enumerator: dst_gap=shift, dst_fold=auto) plus
// parser features. Fires are listed in (after, until].
func TestCron_Next(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, cron, zone string
		after, until     string
		want             []string
	}{
		// Reference: semantics.md 5.1 "US spring gap, fixed time".
		{"SpringGapFixedTime", "30 2 * * *", "America/New_York", "2025-03-08T00:00:00-05:00", "2025-03-11T00:00:00-04:00",
			[]string{"2025-03-08T02:30:00-05:00", "2025-03-09T03:30:00-04:00", "2025-03-10T02:30:00-04:00"}},
		// Reference: semantics.md 5.1 "every 30 min across gap".
		{"SpringGapEvery30Min", "*/30 * * * *", "America/New_York", "2025-03-09T00:45:00-05:00", "2025-03-09T04:01:00-04:00",
			[]string{"2025-03-09T01:00:00-05:00", "2025-03-09T01:30:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T03:30:00-04:00", "2025-03-09T04:00:00-04:00"}},
		// Reference: semantics.md 5.1 "gap minutes collide with real 03:xx".
		{"SpringGapDedupe", "0,30 2,3 * * *", "America/New_York", "2025-03-09T00:00:00-05:00", "2025-03-09T05:00:00-04:00",
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-09T03:30:00-04:00"}},
		// Reference: semantics.md 5.1 "US fall fold, fixed time".
		{"FallFoldFixedTimeOnce", "30 1 * * *", "America/New_York", "2025-11-01T00:00:00-04:00", "2025-11-04T00:00:00-05:00",
			[]string{"2025-11-01T01:30:00-04:00", "2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"}},
		// Reference: semantics.md 5.1 "fold, hour *".
		{"FallFoldEvery20MinTwice", "*/20 * * * *", "America/New_York", "2025-11-02T00:30:00-04:00", "2025-11-02T02:30:00-05:00",
			[]string{"2025-11-02T00:40:00-04:00", "2025-11-02T01:00:00-04:00", "2025-11-02T01:20:00-04:00", "2025-11-02T01:40:00-04:00",
				"2025-11-02T01:00:00-05:00", "2025-11-02T01:20:00-05:00", "2025-11-02T01:40:00-05:00", "2025-11-02T02:00:00-05:00", "2025-11-02T02:20:00-05:00"}},
		// Reference: semantics.md 5.1 "fold, hourly".
		{"FallFoldHourlyTwice", "0 * * * *", "America/New_York", "2025-11-01T23:59:59-04:00", "2025-11-02T03:30:00-05:00",
			[]string{"2025-11-02T00:00:00-04:00", "2025-11-02T01:00:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T02:00:00-05:00", "2025-11-02T03:00:00-05:00"}},
		// A restricted hour field fires once in the fold even when it is a list.
		{"FallFoldRestrictedMinutesOnce", "*/20 1 * * *", "America/New_York", "2025-11-02T00:50:00-04:00", "2025-11-03T01:00:00-05:00",
			[]string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:20:00-04:00", "2025-11-02T01:40:00-04:00", "2025-11-03T01:00:00-05:00"}},
		// Reference: semantics.md 5.1 "30-min DST gap".
		{"LordHowe30MinGap", "15 2 * * *", "Australia/Lord_Howe", "2025-10-04T00:00:00+10:30", "2025-10-07T00:00:00+11:00",
			[]string{"2025-10-04T02:15:00+10:30", "2025-10-05T02:45:00+11:00", "2025-10-06T02:15:00+11:00"}},
		// Reference: semantics.md 5.1 "30-min DST fold".
		{"LordHowe30MinFold", "45 1 * * *", "Australia/Lord_Howe", "2025-04-05T00:00:00+11:00", "2025-04-08T00:00:00+10:30",
			[]string{"2025-04-05T01:45:00+11:00", "2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30"}},
		// Reference: semantics.md 5.1 "midnight gap" (robfig skips 11-04).
		{"SaoPauloMidnightGap", "0 0 * * *", "America/Sao_Paulo", "2018-11-02T12:00:00-03:00", "2018-11-05T12:00:00-02:00",
			[]string{"2018-11-03T00:00:00-03:00", "2018-11-04T01:00:00-02:00", "2018-11-05T00:00:00-02:00"}},
		// Reference: semantics.md 5.1 "southern spring gap".
		{"SydneySpringGap", "30 2 * * *", "Australia/Sydney", "2025-10-04T00:00:00+10:00", "2025-10-07T00:00:00+11:00",
			[]string{"2025-10-04T02:30:00+10:00", "2025-10-05T03:30:00+11:00", "2025-10-06T02:30:00+11:00"}},
		// Santiago changes at 24:00: a midnight gap in September, a fold of
		// 23:xx in April.
		{"SantiagoMidnightGap", "0 0 * * *", "America/Santiago", "2025-09-05T12:00:00-04:00", "2025-09-08T12:00:00-03:00",
			[]string{"2025-09-06T00:00:00-04:00", "2025-09-07T01:00:00-03:00", "2025-09-08T00:00:00-03:00"}},
		{"SantiagoFoldBeforeMidnight", "30 23 * * *", "America/Santiago", "2025-04-04T12:00:00-03:00", "2025-04-07T00:00:00-04:00",
			[]string{"2025-04-04T23:30:00-03:00", "2025-04-05T23:30:00-03:00", "2025-04-06T23:30:00-04:00"}},
		// Reference: semantics.md 5.1 "last day of month".
		{"LastDayOfMonth", "0 0 L * *", "UTC", "2024-01-15T00:00:00Z", "2024-07-02T00:00:00Z",
			[]string{"2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z", "2024-04-30T00:00:00Z", "2024-05-31T00:00:00Z", "2024-06-30T00:00:00Z"}},
		{"LastDayMinus2", "0 0 L-2 * *", "UTC", "2023-01-01T00:00:00Z", "2023-04-01T00:00:00Z",
			[]string{"2023-01-29T00:00:00Z", "2023-02-26T00:00:00Z", "2023-03-29T00:00:00Z"}},
		{"LastDayAndFifteenth", "0 12 15,L 2 *", "UTC", "2023-01-01T00:00:00Z", "2024-03-01T00:00:00Z",
			[]string{"2023-02-15T12:00:00Z", "2023-02-28T12:00:00Z", "2024-02-15T12:00:00Z", "2024-02-29T12:00:00Z"}},
		{"LastDayOrMonday", "0 0 L * MON", "UTC", "2025-06-20T00:00:00Z", "2025-07-08T00:00:00Z",
			[]string{"2025-06-23T00:00:00Z", "2025-06-30T00:00:00Z", "2025-07-07T00:00:00Z"}},
		// Reference: semantics.md 5.1 "day 31".
		{"Day31", "0 0 31 * *", "UTC", "2025-01-01T00:00:00Z", "2025-08-01T00:00:00Z",
			[]string{"2025-01-31T00:00:00Z", "2025-03-31T00:00:00Z", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z"}},
		// Reference: semantics.md 5.1 "Vixie OR".
		{"VixieOR", "0 0 13 * 5", "UTC", "2025-05-31T00:00:00Z", "2025-06-30T00:00:00Z",
			[]string{"2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z", "2025-06-20T00:00:00Z", "2025-06-27T00:00:00Z"}},
		{"VixieORJanuary", "0 0 13 * 5", "UTC", "2025-01-01T00:00:00Z", "2025-01-17T00:00:00Z",
			[]string{"2025-01-03T00:00:00Z", "2025-01-10T00:00:00Z", "2025-01-13T00:00:00Z", "2025-01-17T00:00:00Z"}},
		{"DowWithStarDomIsAND", "0 0 * * 5", "UTC", "2025-01-01T00:00:00Z", "2025-01-10T00:00:00Z",
			[]string{"2025-01-03T00:00:00Z", "2025-01-10T00:00:00Z"}},
		// Reference: semantics.md 5.2 "0 0 29 2 * from 2097-03-01 -> 2104-02-29".
		{"LeapDayAcross2100", "0 0 29 2 *", "UTC", "2097-03-01T00:00:00Z", "2110-01-01T00:00:00Z",
			[]string{"2104-02-29T00:00:00Z", "2108-02-29T00:00:00Z"}},
		{"LeapDay", "0 0 29 2 *", "UTC", "2025-01-01T00:00:00Z", "2033-01-01T00:00:00Z",
			[]string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"Hourly", "@hourly", "", "2025-01-01T00:00:00Z", "2025-01-01T02:00:00Z",
			[]string{"2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"}},
		{"Yearly", "@yearly", "", "2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
			[]string{"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"Annually", "@annually", "", "2025-06-01T00:00:00Z", "2026-01-01T00:00:00Z", []string{"2026-01-01T00:00:00Z"}},
		{"Monthly", "@monthly", "", "2025-01-01T00:00:00Z", "2025-03-01T00:00:00Z",
			[]string{"2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"}},
		{"Weekly", "@weekly", "", "2025-01-01T00:00:00Z", "2025-01-12T00:00:00Z",
			[]string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{"Midnight", "@midnight", "", "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", []string{"2025-01-02T00:00:00Z"}},
		{"DailyKolkata", "@daily", "Asia/Kolkata", "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", []string{"2025-01-02T00:00:00+05:30"}},
		{"SixFieldsSeconds", "*/10 * * * * *", "", "2025-01-01T00:00:00Z", "2025-01-01T00:00:30Z",
			[]string{"2025-01-01T00:00:10Z", "2025-01-01T00:00:20Z", "2025-01-01T00:00:30Z"}},
		{"SixFieldsMinute30", "0 30 * * * *", "", "2025-01-01T00:00:00Z", "2025-01-01T01:30:00Z",
			[]string{"2025-01-01T00:30:00Z", "2025-01-01T01:30:00Z"}},
		{"Names", "0 9 * JAN-FEB mon-fri", "UTC", "2025-02-27T00:00:00Z", "2025-03-04T00:00:00Z",
			[]string{"2025-02-27T09:00:00Z", "2025-02-28T09:00:00Z"}},
		{"SurroundingWhitespace", "  0 9 * * *\t", "", "2025-01-01T00:00:00Z", "2025-01-01T10:00:00Z", []string{"2025-01-01T09:00:00Z"}},
		{"SubSecondInput", "* * * * * *", "", "2025-01-01T00:00:00.5Z", "2025-01-01T00:00:02Z",
			[]string{"2025-01-01T00:00:01Z", "2025-01-01T00:00:02Z"}},
		{"FirstFireAfterZeroTime", "@yearly", "", "0001-01-01T00:00:00Z", "0003-01-01T00:00:00Z",
			[]string{"0002-01-01T00:00:00Z", "0003-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			trig := mustCompile(t, Spec{Cron: tt.cron, Timezone: tt.zone}, time.Time{})
			got := fires(t, trig, mustTime(t, tt.after), mustTime(t, tt.until), 100)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCron_NextBounds(t *testing.T) {
	t.Parallel()

	t.Run("BeforeZeroTimeNeverReturnsZero", func(t *testing.T) {
		t.Parallel()
		trig := mustCompile(t, Spec{Cron: "@yearly"}, time.Time{})
		next, ok := trig.Next(time.Date(-5, 6, 1, 0, 0, 0, 0, time.UTC))
		require.True(t, ok)
		require.False(t, next.IsZero())
		require.Equal(t, "0002-01-01T00:00:00Z", next.Format(time.RFC3339))
	})
	t.Run("PastYear9999", func(t *testing.T) {
		t.Parallel()
		trig := mustCompile(t, Spec{Cron: "0 0 29 2 *", Timezone: "Europe/London"}, time.Time{})
		_, ok := trig.Next(time.Date(9996, 3, 1, 0, 0, 0, 0, time.UTC))
		require.False(t, ok)
		_, ok = trig.Next(time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC))
		require.False(t, ok)
	})
	t.Run("LastSecondOfYear9999", func(t *testing.T) {
		t.Parallel()
		trig := mustCompile(t, Spec{Cron: "59 59 23 31 12 *"}, time.Time{})
		next, ok := trig.Next(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
		require.True(t, ok)
		require.Equal(t, "9999-12-31T23:59:59Z", next.Format(time.RFC3339))
	})
}

// TestCron_NextLeapDayHorizon checks the search horizon against
// semantics.md 5.1: Feb 29 recurs at most 8 years apart, and Feb 29 AND a
// given weekday (the structured-calendar AND form) at most 40 years apart.
func TestCron_NextLeapDayHorizon(t *testing.T) {
	t.Parallel()

	maxGapYears := func(t *testing.T, c *Cron, from, to int) int {
		t.Helper()
		cur, gap := time.Date(from, 1, 1, 0, 0, 0, 0, time.UTC), 0
		prev := -1
		for {
			next, ok := c.Next(cur)
			require.True(t, ok)
			if next.Year() > to {
				return gap
			}
			require.Equal(t, 29, next.Day())
			if prev >= 0 {
				gap = max(gap, next.Year()-prev)
			}
			prev, cur = next.Year(), next
		}
	}

	t.Run("Feb29", func(t *testing.T) {
		t.Parallel()
		c := mustCompile(t, Spec{Cron: "0 0 29 2 *"}, time.Time{}).(*Cron)
		require.Equal(t, 8, maxGapYears(t, c, 2000, 2800))
	})
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		t.Run("Feb29And"+wd.String(), func(t *testing.T) {
			t.Parallel()
			c := mustCompile(t, Spec{Cron: "0 0 29 2 *"}, time.Time{}).(*Cron)
			c.dow, c.daysAnd = 1<<wd, true // cron strings OR these; force AND
			require.Equal(t, 40, maxGapYears(t, c, 2000, 2800))
		})
	}
}

// TestCron_NextInvariants checks Next(t) > t and strict monotonicity from
// arbitrary, sub-second starting points across DST transitions.
func TestCron_NextInvariants(t *testing.T) {
	t.Parallel()

	specs := []string{"* * * * *", "*/7 * * * * *", "30 2 * * *", "0,30 1-3 * * *", "0 0 * * *", "59 23 L * *", "@hourly"}
	zones := []string{"America/New_York", "Australia/Lord_Howe", "America/Santiago", "Europe/London"}
	for _, zone := range zones {
		for _, spec := range specs {
			trig := mustCompile(t, Spec{Cron: spec, Timezone: zone}, time.Time{})
			for _, start := range []string{"2025-03-08T23:59:59.999Z", "2025-11-02T05:59:59.5Z", "2025-04-05T02:00:00.25Z", "2025-10-04T15:00:00Z"} {
				cur := mustTime(t, start)
				for range 300 {
					next, ok := trig.Next(cur)
					require.True(t, ok)
					require.True(t, next.After(cur), "%s %s: Next(%s) = %s", spec, zone, cur, next)
					cur = next
				}
			}
		}
	}
}
