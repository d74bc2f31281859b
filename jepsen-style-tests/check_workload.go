package jepsen

import (
	"fmt"
	"slices"
)

// Workload checks that the run exercised the system: every operation kind
// succeeded at least once, the rate of successful operations in healthy
// windows reached MinHealthyRate (a silently idle run must not pass), and
// no answer the workload cannot cause (400, unexpected statuses) came back.
type Workload struct{ MinHealthyRate float64 }

// Name implements Checker.
func (Workload) Name() string { return "workload" }

// Check implements Checker.
func (c Workload) Check(h *History) Result {
	var problems []string
	okByKind := map[OpKind]int{}
	for _, op := range h.Ops {
		if op.Outcome == OutcomeOK {
			okByKind[op.Kind]++
		}
		if op.Result == ResultInvalid || op.Result == ResultUnexpected {
			problems = append(problems, "unexpected answer: "+describeOp(op, h.StartNS)+" "+op.Error)
		}
	}
	for _, k := range []OpKind{OpCreate, OpUpdate, OpDelete, OpGet} {
		if okByKind[k] == 0 {
			problems = append(problems, fmt.Sprintf("no %s ever succeeded", k))
		}
	}
	rate, secs := healthyRate(h)
	if secs == 0 {
		problems = append(problems, "no healthy window was recorded")
	} else if rate < c.MinHealthyRate {
		problems = append(problems, fmt.Sprintf("%.1f successful ops/s in healthy windows, below the minimum %.1f", rate, c.MinHealthyRate))
	}
	if len(problems) > 0 {
		return fail(c.Name(), limitDetails(problems, 20), "%d problems", len(problems))
	}
	return pass(c.Name(), "%.1f successful ops/s over %.0fs of healthy windows", rate, secs)
}

// healthyRate is the rate of successful operations completing inside
// healthy windows, and the windows' total length in seconds.
func healthyRate(h *History) (float64, float64) {
	var ns int64
	n := 0
	for _, w := range h.Windows {
		if w.Kind != WindowHealthy {
			continue
		}
		ns += w.EndNS - w.StartNS
		for _, op := range h.Ops {
			if op.Outcome == OutcomeOK && op.CompleteNS >= w.StartNS && op.CompleteNS < w.EndNS {
				n++
			}
		}
	}
	if ns == 0 {
		return 0, 0
	}
	secs := float64(ns) / 1e9
	return float64(n) / secs, secs
}

// NemesisHealth checks that the faults were actually injected: at least one
// fault window when nemeses were requested, and no nemesis action failed (a
// harness that cannot inject faults tests nothing).
type NemesisHealth struct{}

// Name implements Checker.
func (NemesisHealth) Name() string { return "nemesis" }

// Check implements Checker.
func (c NemesisHealth) Check(h *History) Result {
	var problems []string
	for _, ev := range h.Nemesis {
		if ev.Error != "" {
			problems = append(problems, fmt.Sprintf("%s %s %v at %s: %s", ev.Nemesis, ev.Phase, ev.Targets, relTime(ev.StartNS, h.StartNS), ev.Error))
		}
	}
	faults := FaultCounts(h)
	total := 0
	for _, n := range faults {
		total += n
	}
	wantFaults := len(h.Requested) > 0 && !slices.Equal(h.Requested, []string{NemesisNone})
	if wantFaults && total == 0 {
		problems = append(problems, "no fault was injected (run too short for the windows?)")
	}
	if len(problems) > 0 {
		return fail(c.Name(), limitDetails(problems, 20), "%d problems", len(problems))
	}
	return pass(c.Name(), "%d faults injected, every action succeeded", total)
}

// FaultCounts counts the fault windows per nemesis.
func FaultCounts(h *History) map[string]int {
	out := map[string]int{}
	for _, w := range h.Windows {
		if w.Kind == WindowFault {
			out[w.Nemesis]++
		}
	}
	return out
}
