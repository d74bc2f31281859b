package jepsen

import (
	"fmt"
	"strings"
	"time"
)

// A Checker verifies one guarantee over a sealed History. Check must be a
// pure function of the history (no I/O, no clock, no cluster access): the
// runner gathers everything a checker needs into the History first, so a
// saved history can be re-checked offline. Check is called once per run,
// from one goroutine.
type Checker interface {
	Name() string
	Check(h *History) Result
}

// Verdict is a checker's conclusion.
type Verdict string

// Verdicts. Only VerdictPass lets a run pass: an inconclusive check (the
// linearizability search timed out) is not evidence of correctness.
const (
	VerdictPass         Verdict = "pass"
	VerdictFail         Verdict = "FAIL"
	VerdictInconclusive Verdict = "INCONCLUSIVE"
)

// Result is a checker's report.
type Result struct {
	Name    string
	Verdict Verdict
	// Summary is one line for the run summary.
	Summary string
	// Details explain a failure (or list observations) for checks.txt and
	// the test log, one item per entry.
	Details []string
	// Artifacts are files for the report directory (name → content), such
	// as porcupine's HTML visualisation of a violation.
	Artifacts map[string][]byte
	Elapsed   time.Duration
}

// OK reports whether the check passed.
func (r Result) OK() bool { return r.Verdict == VerdictPass }

func pass(name, format string, args ...any) Result {
	return Result{Name: name, Verdict: VerdictPass, Summary: fmt.Sprintf(format, args...)}
}

func fail(name string, details []string, format string, args ...any) Result {
	return Result{Name: name, Verdict: VerdictFail, Summary: fmt.Sprintf(format, args...), Details: details}
}

// DefaultCheckers returns the checkers of the CRUD workload for cfg.
func DefaultCheckers(cfg Config) []Checker {
	cfg = cfg.withDefaults()
	return append([]Checker{
		LinearizableCRUD{Timeout: cfg.CheckTimeout},
		NoLostNoPhantom{},
		Convergence{},
		Liveness{LeaderBound: cfg.LeaderBound, RecoveryBound: cfg.RecoveryBound, Blip: DefaultUnavailableBlip},
		Workload{MinHealthyRate: cfg.MinHealthyRate},
		NemesisHealth{},
	}, FireCheckers()...)
}

// RunCheckers runs every checker and times it.
func RunCheckers(h *History, checkers []Checker) []Result {
	out := make([]Result, 0, len(checkers))
	for _, c := range checkers {
		start := time.Now()
		r := c.Check(h)
		r.Name, r.Elapsed = c.Name(), time.Since(start)
		out = append(out, r)
	}
	return out
}

// limitDetails keeps the first n details and says how many were cut.
func limitDetails(details []string, n int) []string {
	if len(details) <= n {
		return details
	}
	return append(details[:n:n], fmt.Sprintf("… and %d more", len(details)-n))
}

// describeOp renders an operation for humans.
func describeOp(op Op, originNS int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d c%d@%s %s(%s", op.Index, op.Client, op.Node, op.Kind, op.Key)
	if op.Value != "" {
		b.WriteString(", " + op.Value)
	}
	b.WriteString(") → ")
	switch {
	case op.Outcome == OutcomeOK && op.Kind == OpGet:
		b.WriteString(op.Read)
	case op.Outcome == OutcomeOK:
		b.WriteString("ok")
	case op.Outcome == OutcomeFail:
		b.WriteString(op.Result)
	default:
		b.WriteString("unknown (" + op.Result + ")")
	}
	fmt.Fprintf(&b, " [%s, %s]", relTime(op.InvokeNS, originNS), relTime(op.CompleteNS, originNS))
	return b.String()
}

// relTime renders a monotonic time as seconds since origin.
func relTime(ns, originNS int64) string {
	return fmt.Sprintf("%.3fs", float64(ns-originNS)/1e9)
}
