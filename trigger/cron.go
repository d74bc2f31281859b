package trigger

import (
	"math"
	"math/bits"
	"time"
)

const (
	// allHours is the hour mask of a `*` hour field.
	allHours = 1<<24 - 1
	// minUnix and maxUnix bound the fire times of a Cron (see Trigger.Next).
	minUnix = -62135596800 // 0001-01-01T00:00:00Z, the zero Time
	maxUnix = 253402300799 // 9999-12-31T23:59:59Z
	// horizon bounds how far past its input Next searches: one 400-year
	// Gregorian cycle plus slack for zone offsets. Compile rejects
	// expressions with no match in a cycle, so a valid Cron always finds its
	// next wall-clock match well within it.
	horizon = (cycleDays + 3) * secondsPerDay
)

// Cron is a compiled cron expression evaluated in one IANA zone.
//
// Its fire times are defined on local wall-clock times W matching the fields:
//   - W exists once: it fires at that instant.
//   - W falls in a DST gap (does not exist): it fires at W read with the
//     offset in force before the gap, i.e. shifted forward by the gap length
//     (02:30 in the New York spring gap fires at 03:30 EDT).
//   - W occurs twice (DST fold): only the first occurrence fires when the
//     hour field is restricted; both fire when it covers all 24 hours.
//
// Instants produced twice (a shifted gap time landing on a real time) fire
// once, so Next is strictly increasing.
type Cron struct {
	loc                  *time.Location
	second, minute, hour uint64 // bit v set: value v matches (star bit cleared)
	dom                  uint64 // bit d: day d of the month (1-31)
	last                 uint64 // bit n: day "L-n", the n-th day before the last
	month                uint64 // bit m: month m (1-12)
	dow                  uint64 // bit w: weekday w (0 = Sunday)
	daysAnd              bool   // dom AND dow (one of them is *); else OR (Vixie)
	hourAll              bool   // hour field is all 24 hours: both fold occurrences fire
}

// Next returns the first fire time strictly after t, in the Cron's zone.
//
// It walks the zone's offset segments (intervals of constant UTC offset)
// from t onwards. In each it takes the earliest of (a) a real wall
// time of the segment and (b) a shifted wall time from the gap that opens the
// segment, which always lands within the first gap-length of the segment. A
// candidate inside the current segment beats anything in later segments.
func (c *Cron) Next(t time.Time) (time.Time, bool) {
	from := max(t.Unix(), minUnix) + 1 // first whole second after t
	if from > maxUnix {
		return time.Time{}, false
	}
	limit := min(from+horizon, maxUnix)
	best, found := int64(0), false
	for x := from; x <= limit; {
		seg := zoneSegment(c.loc, x)
		if w, ok := c.nextInSegment(seg, x); ok && (!found || w < best) {
			best, found = w, true
		}
		if !seg.hasEnd || (found && best < seg.end) {
			break
		}
		x = seg.end
	}
	if !found || best > maxUnix {
		return time.Time{}, false
	}
	return time.Unix(best, 0).In(c.loc), true
}

// nextInSegment returns the earliest fire instant >= x produced by seg,
// which contains x.
func (c *Cron) nextInSegment(seg segment, x int64) (int64, bool) {
	best, found := int64(0), false
	// (b) Wall times skipped by the gap before seg, at the pre-gap offset.
	if seg.hasStart && seg.prevOff < seg.off {
		lo := max(seg.start, x) + seg.prevOff
		if w, ok := c.nextWall(lo, seg.start+seg.off); ok {
			best, found = w-seg.prevOff, true
		}
	}
	// (a) Wall times of seg itself. After a fold, the wall times the previous
	// segment already showed are second occurrences: skip them unless every
	// hour fires.
	lo := x + seg.off
	if seg.hasStart && seg.prevOff > seg.off && !c.hourAll {
		lo = max(lo, seg.start+seg.prevOff)
	}
	hi := int64(math.MaxInt64)
	if seg.hasEnd {
		hi = seg.end + seg.off
	}
	if w, ok := c.nextWall(lo, hi); ok && (!found || w-seg.off < best) {
		best, found = w-seg.off, true
	}
	return best, found
}

// segment is an interval [start, end) of Unix seconds over which a zone's
// UTC offset is constant. start, when known, is a real transition: the offset
// just before it, prevOff, differs from off.
type segment struct {
	start, end       int64
	off, prevOff     int64 // offset in seconds east of UTC, here and just before start
	hasStart, hasEnd bool  // false: no transition that matters on that side
}

// maxShift bounds the offset change of one transition (the largest on record
// is 24h, Pacific/Apia 2011). A transition further than this before x cannot
// create a gap or fold around x.
const maxShift = 2 * secondsPerDay

// zoneSegment returns the segment containing x.
//
// Time.ZoneBounds is only a hint: beyond its transition table Go derives
// bounds from the zone's TZ rule per UTC year, reporting the year's start as a
// boundary even where the offset does not change, and in leap years an end
// one day early (at or before x itself). So the end is repaired, and the start
// is walked back over boundaries without an offset change.
func zoneSegment(loc *time.Location, x int64) segment {
	t := time.Unix(x, 0).In(loc)
	_, off := t.Zone()
	start, end := t.ZoneBounds()
	seg := segment{off: int64(off), prevOff: int64(off)}
	if !end.IsZero() {
		seg.end, seg.hasEnd = end.Unix(), true
		if seg.end <= x {
			seg.end = nextUTCYear(x)
		}
	}
	for !start.IsZero() {
		st := start.Unix()
		if st > x || st < x-maxShift {
			break
		}
		before := time.Unix(st-1, 0).In(loc)
		if _, prev := before.Zone(); prev != off {
			seg.start, seg.prevOff, seg.hasStart = st, int64(prev), true
			break
		}
		start, _ = before.ZoneBounds()
	}
	return seg
}

// nextUTCYear returns the first second of the UTC year after the one holding x.
func nextUTCYear(x int64) int64 {
	y, _, _ := civilFromDays(floorDiv(x, secondsPerDay))
	return daysFromCivil(y+1, 1, 1) * secondsPerDay
}

// nextWall returns the first wall time w with from <= w < end that matches
// the fields, searching at most one 400-year cycle.
func (c *Cron) nextWall(from, end int64) (int64, bool) {
	if from >= end {
		return 0, false
	}
	day := floorDiv(from, secondsPerDay)
	sod := from - day*secondsPerDay
	lastDay := min(floorDiv(end-1, secondsPerDay), day+cycleDays+1)
	y, m, d := civilFromDays(day)
	for day <= lastDay {
		if c.month&(1<<m) == 0 { // skip to the 1st of the next month
			day += daysIn(y, m) - d + 1
			y, m, d, sod = nextMonth(y, m)
			continue
		}
		dim := daysIn(y, m)
		if c.dayMatches(d, dim, weekday(day)) {
			if s, ok := c.timeOfDay(sod); ok {
				if w := day*secondsPerDay + s; w < end {
					return w, true
				}
				return 0, false
			}
		}
		day, d, sod = day+1, d+1, 0
		if d > dim {
			y, m, d, _ = nextMonth(y, m)
		}
	}
	return 0, false
}

func nextMonth(y, m int64) (ny, nm, nd, sod int64) {
	if m == 12 {
		return y + 1, 1, 1, 0
	}
	return y, m + 1, 1, 0
}

// dayMatches applies robfig/Vixie day matching: day-of-month (including L)
// and day-of-week are OR'ed when both are restricted, AND'ed otherwise.
func (c *Cron) dayMatches(d, dim, wd int64) bool {
	domOK := c.dom&(1<<d) != 0 || c.last&(1<<(dim-d)) != 0
	dowOK := c.dow&(1<<wd) != 0
	if c.daysAnd {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// timeOfDay returns the first second-of-day >= sod matching hour, minute and
// second, or ok=false if none is left in the day.
func (c *Cron) timeOfDay(sod int64) (int64, bool) {
	h0, m0, s0 := sod/3600, sod/60%60, sod%60
	h, ok := nextBit(c.hour, h0)
	if !ok {
		return 0, false
	}
	if h == h0 {
		if m, ok := nextBit(c.minute, m0); ok {
			if m == m0 {
				if s, ok := nextBit(c.second, s0); ok {
					return h*3600 + m*60 + s, true
				}
				m, ok = nextBit(c.minute, m0+1)
			}
			if ok {
				return h*3600 + m*60 + firstBit(c.second), true
			}
		}
		if h, ok = nextBit(c.hour, h0+1); !ok {
			return 0, false
		}
	}
	return h*3600 + firstBit(c.minute)*60 + firstBit(c.second), true
}

// nextBit returns the lowest set bit of mask at position >= from.
func nextBit(mask uint64, from int64) (int64, bool) {
	if from >= 64 {
		return 0, false
	}
	rest := mask &^ (1<<from - 1)
	if rest == 0 {
		return 0, false
	}
	return int64(bits.TrailingZeros64(rest)), true
}

func firstBit(mask uint64) int64 {
	return int64(bits.TrailingZeros64(mask))
}
