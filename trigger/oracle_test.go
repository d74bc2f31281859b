package trigger

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// This file checks Cron.Next against a brute-force oracle that shares
// nothing with it but the parsed field masks. The oracle enumerates every
// local wall-clock minute of a window, finds the instants showing that wall
// time by tabulating the zone offset of every UTC minute, and applies the
// rules of semantics.md section 2 literally:
//   - a wall time shown by no instant (gap) fires at wall - pre-gap offset;
//   - a wall time shown by several instants (fold) fires at the first of them
//     when the hour field is restricted, at all of them otherwise;
//   - the resulting instants are sorted and deduplicated.

// zoneTable maps local wall minutes to the UTC minutes that display them,
// over [lo, hi] (Unix seconds, minute-aligned). Every transition of the
// zones under test falls on a whole UTC minute.
type zoneTable struct {
	lo, hi int64
	shows  map[int64][]int64 // wall minute -> instants, ascending
	jumps  []jump            // forward jumps of the wall clock
}

// jump: at the instant where the offset rose from pre, wall times
// [from, to) were skipped.
type jump struct{ from, to, pre int64 }

func newZoneTable(loc *time.Location, lo, hi int64) *zoneTable {
	lo, hi = lo-lo%60, hi-hi%60
	zt := &zoneTable{lo: lo, hi: hi, shows: map[int64][]int64{}}
	var prev int64
	for x := lo; x <= hi; x += 60 {
		_, o := time.Unix(x, 0).In(loc).Zone()
		off := int64(o)
		zt.shows[x+off] = append(zt.shows[x+off], x)
		if x > lo && off > prev {
			zt.jumps = append(zt.jumps, jump{from: x + prev, to: x + off, pre: prev})
		}
		prev = off
	}
	return zt
}

// oracleFires returns all fire instants of c in (from, to]. The table must
// cover from-3d .. to+3d.
func oracleFires(t *testing.T, c *Cron, zt *zoneTable, from, to int64) []int64 {
	t.Helper()
	hourRestricted := countBits(c.hour) != 24
	var out []int64
	for day := from/86400 - 2; day <= to/86400+2; day++ {
		date := time.Unix(day*86400, 0).UTC()
		if !oracleDayMatches(c, date) {
			continue
		}
		for h := int64(0); h < 24; h++ {
			for m := int64(0); m < 60; m++ {
				if c.hour&(1<<h) == 0 || c.minute&(1<<m) == 0 {
					continue
				}
				wall := day*86400 + h*3600 + m*60
				instants := oracleResolve(t, zt, wall, hourRestricted)
				for s := int64(0); s < 60; s++ {
					if c.second&(1<<s) == 0 {
						continue
					}
					for _, x := range instants {
						if x+s > from && x+s <= to {
							out = append(out, x+s)
						}
					}
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// oracleResolve returns the instants at which wall minute w fires.
func oracleResolve(t *testing.T, zt *zoneTable, w int64, hourRestricted bool) []int64 {
	if xs := zt.shows[w]; len(xs) > 0 {
		if hourRestricted {
			return xs[:1]
		}
		return xs
	}
	for _, j := range zt.jumps {
		if w >= j.from && w < j.to {
			return []int64{w - j.pre}
		}
	}
	t.Fatalf("wall time %s is neither shown nor skipped in the table", time.Unix(w, 0).UTC())
	return nil
}

// oracleDayMatches is Vixie day matching written out plainly.
func oracleDayMatches(c *Cron, date time.Time) bool {
	if c.month&(1<<int(date.Month())) == 0 {
		return false
	}
	lastDay := time.Date(date.Year(), date.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	domOK := c.dom&(1<<date.Day()) != 0
	for n := 0; n <= 30; n++ {
		if c.last&(1<<n) != 0 && date.Day() == lastDay-n {
			domOK = true
		}
	}
	dowOK := c.dow&(1<<int(date.Weekday())) != 0
	if c.daysAnd {
		return domOK && dowOK
	}
	return domOK || dowOK
}

func countBits(m uint64) int {
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return n
}

// randomCron returns a random cron expression biased towards the hours and
// patterns where DST bugs live.
func randomCron(r *rand.Rand) string {
	pick := func(opts ...string) string { return opts[r.IntN(len(opts))] }
	num := func(lo, hi int) int { return lo + r.IntN(hi-lo+1) }
	minute := pick("*", "0", "30", "15,45", fmt.Sprintf("*/%d", num(1, 30)), fmt.Sprintf("%d", num(0, 59)),
		fmt.Sprintf("%d-%d", num(0, 20), num(30, 59)), fmt.Sprintf("%d-%d/%d", num(0, 10), num(40, 59), num(2, 20)))
	hour := pick("*", "*", "0", "1", "2", "3", "23", "0-3", "1,2", "2,3", "*/2", "22-23", "0-23", fmt.Sprintf("%d", num(0, 23)),
		fmt.Sprintf("%d-%d", num(0, 5), num(6, 23)))
	dom := pick("*", "*", "*", "*", "L", "L-1", "1", "15,L", fmt.Sprintf("%d", num(1, 31)), fmt.Sprintf("%d-%d", num(1, 10), num(20, 31)),
		fmt.Sprintf("*/%d", num(2, 5)))
	month := pick("*", "*", "*", "*", "*", "3,4,9,10,11", fmt.Sprintf("%d-12", num(1, 12)))
	dow := pick("*", "*", "*", "*", "0", "6", "1-5", "SAT,SUN", fmt.Sprintf("%d", num(0, 6)))
	fields := []string{minute, hour, dom, month, dow}
	if r.IntN(5) == 0 { // a few seconds keep the oracle cheap
		fields = append([]string{pick("0", "30", "5,55", "*/20", fmt.Sprintf("%d", num(0, 59)))}, fields...)
	}
	if r.IntN(20) == 0 {
		return pick("@hourly", "@daily", "@midnight", "@weekly", "@monthly")
	}
	return strings.Join(fields, " ")
}

// windowsAround returns ±36h windows around every offset change of loc in
// the given years, plus a window at each year end (leap-year bookkeeping,
// L) for zones without changes.
func windowsAround(loc *time.Location, years []int) [][2]int64 {
	var out [][2]int64
	for _, y := range years {
		start := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		_, prev := time.Unix(start, 0).In(loc).Zone()
		for x := start; x < start+366*86400; x += 3600 {
			if _, off := time.Unix(x, 0).In(loc).Zone(); off != prev {
				out = append(out, [2]int64{x - 36*3600, x + 36*3600})
				prev = off
			}
		}
		end := time.Date(y, 12, 31, 0, 0, 0, 0, time.UTC).Unix()
		out = append(out, [2]int64{end - 36*3600, end + 36*3600})
	}
	return out
}

func TestCron_NextMatchesOracle(t *testing.T) {
	t.Parallel()

	zones := []string{"America/New_York", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe",
		"America/Sao_Paulo", "America/Santiago", "Asia/Kolkata", "UTC"}
	years := []int{1975, 1991, 2000, 2018, 2025, 2040, 2077, 2099}
	specsPerWindow := 64
	if testing.Short() {
		specsPerWindow = 12
	}
	for zi, zone := range zones {
		t.Run(strings.ReplaceAll(zone, "/", "_"), func(t *testing.T) {
			t.Parallel()
			loc, err := time.LoadLocation(zone)
			require.NoError(t, err)
			r := rand.New(rand.NewPCG(42, uint64(zi)))
			for _, w := range windowsAround(loc, years) {
				zt := newZoneTable(loc, w[0]-3*86400, w[1]+3*86400)
				for range specsPerWindow {
					expr := randomCron(r)
					trig, err := Compile(Spec{Cron: expr, Timezone: zone}, time.Time{})
					if err != nil {
						continue // e.g. "0 0 31 4 *": rejected, covered elsewhere
					}
					checkAgainstOracle(t, trig.(*Cron), zt, w[0], w[1], r, expr)
				}
			}
		})
	}
}

// checkAgainstOracle compares the whole Next sequence over (from, to], and
// Next from random sub-second points, with the oracle.
func checkAgainstOracle(t *testing.T, c *Cron, zt *zoneTable, from, to int64, r *rand.Rand, expr string) {
	t.Helper()
	want := oracleFires(t, c, zt, from, to)
	var got []int64
	for cur := time.Unix(from, 0); ; {
		next, ok := c.Next(cur)
		require.True(t, ok, "%q", expr)
		if next.Unix() > to {
			break
		}
		got = append(got, next.Unix())
		cur = next
	}
	if !slices.Equal(want, got) {
		require.Equal(t, formatUnix(want, c.loc), formatUnix(got, c.loc), "%q in %s over (%s, %s]",
			expr, c.loc, time.Unix(from, 0).In(c.loc), time.Unix(to, 0).In(c.loc))
	}
	for range 20 {
		probe := time.Unix(from+r.Int64N(to-from), r.Int64N(1e9))
		next, ok := c.Next(probe)
		require.True(t, ok)
		i, _ := slices.BinarySearch(want, probe.Unix()+1)
		if i < len(want) {
			require.Equal(t, want[i], next.Unix(), "%q: Next(%s)", expr, probe.In(c.loc))
		} else {
			require.Greater(t, next.Unix(), to, "%q: Next(%s)", expr, probe.In(c.loc))
		}
	}
}

func formatUnix(xs []int64, loc *time.Location) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = time.Unix(x, 0).In(loc).Format(time.RFC3339)
	}
	return out
}
