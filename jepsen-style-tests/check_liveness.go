package jepsen

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Liveness checks that the cluster recovers: a ready leader exists within
// LeaderBound of the final heal, and after every fault window some
// operation succeeds within RecoveryBound. It also lists the unavailability
// windows (gaps longer than Blip without a successful operation) and the
// nemesis each overlaps; those are reported, not judged.
type Liveness struct {
	LeaderBound   time.Duration
	RecoveryBound time.Duration
	Blip          time.Duration
}

// Name implements Checker.
func (Liveness) Name() string { return "liveness" }

// Check implements Checker.
func (c Liveness) Check(h *History) Result {
	var problems []string
	f := h.Final
	switch {
	case f.LeaderNS == 0:
		problems = append(problems, fmt.Sprintf("no ready leader within %s of the final heal", c.LeaderBound))
	case time.Duration(f.LeaderNS-f.HealNS) > c.LeaderBound:
		problems = append(problems, fmt.Sprintf("first ready leader %s after the final heal (bound %s)", durationNS(f.LeaderNS-f.HealNS), c.LeaderBound))
	}
	okTimes := successTimes(h.Ops)
	for _, w := range h.Windows {
		if w.Kind != WindowFault || w.EndNS+int64(c.RecoveryBound) > h.EndNS {
			continue
		}
		i, _ := slices.BinarySearch(okTimes, w.EndNS)
		if i == len(okTimes) || okTimes[i]-w.EndNS > int64(c.RecoveryBound) {
			problems = append(problems, fmt.Sprintf("no successful operation within %s after %s ended at %s",
				c.RecoveryBound, w.Nemesis, relTime(w.EndNS, h.StartNS)))
		}
	}
	gaps := UnavailabilityWindows(h, c.Blip)
	details := make([]string, 0, len(gaps))
	for _, g := range gaps {
		details = append(details, g.String(h.StartNS))
	}
	if len(problems) > 0 {
		return fail(c.Name(), append(problems, details...), "%d problems", len(problems))
	}
	r := pass(c.Name(), "leader %s after the final heal; %d unavailability windows > %s, longest %s",
		durationNS(f.LeaderNS-f.HealNS), len(gaps), c.Blip, longestGap(gaps))
	r.Details = details
	return r
}

// successTimes returns the completion times of successful operations, sorted.
func successTimes(ops []Op) []int64 {
	var out []int64
	for _, op := range ops {
		if op.Outcome == OutcomeOK {
			out = append(out, op.CompleteNS)
		}
	}
	slices.Sort(out)
	return out
}

// Gap is a period without any successful operation.
type Gap struct {
	StartNS, EndNS int64
	// Nemeses are the fault windows the gap overlaps ("healthy" if none).
	Nemeses []string
}

// Duration is the gap's length.
func (g Gap) Duration() time.Duration { return time.Duration(g.EndNS - g.StartNS) }

// String renders the gap relative to origin.
func (g Gap) String(origin int64) string {
	return fmt.Sprintf("unavailable %s from %s to %s during %s", g.Duration().Round(time.Millisecond),
		relTime(g.StartNS, origin), relTime(g.EndNS, origin), strings.Join(g.Nemeses, "+"))
}

// UnavailabilityWindows returns the gaps longer than blip between
// successful operations during the workload phase.
func UnavailabilityWindows(h *History, blip time.Duration) []Gap {
	times := append([]int64{h.StartNS}, successTimes(h.Ops)...)
	times = append(times, h.EndNS)
	var gaps []Gap
	for i := 1; i < len(times); i++ {
		if time.Duration(times[i]-times[i-1]) <= blip {
			continue
		}
		g := Gap{StartNS: times[i-1], EndNS: times[i]}
		for _, w := range h.Windows {
			if w.Kind == WindowFault && w.StartNS < g.EndNS && w.EndNS > g.StartNS {
				g.Nemeses = append(g.Nemeses, w.Nemesis)
			}
		}
		if len(g.Nemeses) == 0 {
			g.Nemeses = []string{"healthy"}
		}
		gaps = append(gaps, g)
	}
	return gaps
}

func longestGap(gaps []Gap) string {
	var best Gap
	for _, g := range gaps {
		if g.Duration() > best.Duration() {
			best = g
		}
	}
	if best.Duration() == 0 {
		return "none"
	}
	return fmt.Sprintf("%s (%s)", best.Duration().Round(time.Millisecond), strings.Join(best.Nemeses, "+"))
}

func durationNS(ns int64) time.Duration { return time.Duration(ns).Round(time.Millisecond) }
