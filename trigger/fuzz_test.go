package trigger

import (
	"testing"
	"time"
)

// FuzzCompile feeds arbitrary specs to Compile: it must never panic, and a
// trigger it accepts must yield strictly increasing, non-zero times.
func FuzzCompile(f *testing.F) {
	seeds := []string{
		"* * * * *", "*/10 * * * * *", "30 2 * * *", "0 0 29 2 *", "0 0 30 2 *", "0 0 L-3 * *",
		"0 0 13 * 5", "@daily", "@every 5m", "TZ=UTC", "CRON_TZ=", "TZ=TZ=TZ=", "TZ=UTC * * * * *",
		"0 0 L,15 2 1", ", , , , ,", "*/0 * * * *", "L-", "0 0 l-30 * *", "59 59 23 31 12 *",
	}
	for i, s := range seeds {
		f.Add(s, []string{"", "America/New_York", "Australia/Lord_Howe", "America/Santiago"}[i%4], "", "", int64(1741400000+i*86400))
	}
	f.Add("", "", "90s", "", int64(0))
	f.Add("", "", "", "2025-06-01T09:00:00Z", int64(-1<<40))
	f.Add("", "UTC", "1h", "2025-06-01T09:00:00Z", int64(1<<40))

	f.Fuzz(func(t *testing.T, cron, zone, every, at string, start int64) {
		anchor := time.Unix(1700000000, 0)
		trig, err := Compile(Spec{Cron: cron, Timezone: zone, Every: every, At: at}, anchor)
		if err != nil {
			if trig != nil {
				t.Fatalf("Compile returned both a trigger and %v", err)
			}
			return
		}
		cur := time.Unix(start, int64(uint64(start)%1e9))
		for range 5 {
			next, ok := trig.Next(cur)
			if !ok {
				return
			}
			if next.IsZero() || !next.After(cur) {
				t.Fatalf("Next(%s) = %s: not strictly after its input", cur, next)
			}
			cur = next
		}
	})
}
