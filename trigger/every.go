package trigger

import (
	"fmt"
	"math/big"
	"time"
)

// minEvery is the shortest interval an every trigger accepts.
const minEvery = time.Second

// Every fires at anchor + k*interval for every integer k. It measures
// absolute time, so DST transitions do not affect it, and being anchored it
// never drifts however late Next is called.
type Every struct {
	anchor   time.Time // no monotonic reading
	interval time.Duration
}

func compileEvery(s string, anchor time.Time) (*Every, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return nil, fieldErr(fieldEvery, fmt.Sprintf("invalid duration %q: want a Go duration such as \"90s\" or \"1h30m\"", s))
	}
	if d < minEvery {
		return nil, fieldErr(fieldEvery, fmt.Sprintf("interval %s is shorter than the minimum %s", d, minEvery))
	}
	if anchor.IsZero() {
		anchor = time.Unix(0, 0)
	}
	return &Every{anchor: anchor.Round(0).UTC(), interval: d}, nil
}

// Next returns the smallest anchor + k*interval strictly after t.
func (e *Every) Next(t time.Time) (time.Time, bool) {
	t = t.Round(0) // wall clock only: the anchor has no monotonic reading
	if t.Before(minTime) {
		t = minTime
	}
	if !t.Before(maxTime) {
		return time.Time{}, false
	}
	next := t.Add(e.interval - e.phase(t)).UTC()
	if next.After(maxTime) {
		return time.Time{}, false
	}
	return next, true
}

// phase returns (t - anchor) mod interval, in [0, interval).
func (e *Every) phase(t time.Time) time.Duration {
	d := t.Sub(e.anchor)
	if d > minDuration && d < maxDuration { // Sub did not saturate
		r := d % e.interval
		if r < 0 {
			r += e.interval
		}
		return r
	}
	// More than ~292 years apart: exact arithmetic.
	ns := new(big.Int).SetInt64(t.Unix() - e.anchor.Unix())
	ns.Mul(ns, big.NewInt(int64(time.Second)))
	ns.Add(ns, big.NewInt(int64(t.Nanosecond()-e.anchor.Nanosecond())))
	ns.Mod(ns, big.NewInt(int64(e.interval))) // Euclidean: in [0, interval)
	return time.Duration(ns.Int64())
}

const (
	minDuration time.Duration = -1 << 63
	maxDuration time.Duration = 1<<63 - 1
)
