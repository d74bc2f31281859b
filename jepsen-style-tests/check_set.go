package jepsen

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// NoLostNoPhantom is the Jepsen "set" check on the final state: every
// acknowledged create or update that no delete can have followed is
// present, with a value that no acknowledged write superseded; every final
// value was written to that ID by some create or update; the linearizable
// listing of every member equals the per-ID final reads.
type NoLostNoPhantom struct{}

// Name implements Checker.
func (NoLostNoPhantom) Name() string { return "no-lost-no-phantom" }

// Check implements Checker.
func (c NoLostNoPhantom) Check(h *History) Result {
	reads := map[string]FinalRead{}
	for _, fr := range h.Final.Reads {
		reads[fr.Key] = fr
	}
	byKey := opsByKey(h.Ops)
	var problems []string
	present := 0
	for _, key := range h.Keys {
		fr, ok := reads[key]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("key %s: no final read", key))
			continue
		case fr.Error != "":
			problems = append(problems, fmt.Sprintf("key %s: final read failed: %s", key, fr.Error))
			continue
		case fr.Exists:
			present++
		}
		problems = append(problems, checkKeyFinal(key, fr, byKey[key], h.StartNS)...)
	}
	problems = append(problems, checkLists(h, reads)...)
	if len(problems) > 0 {
		return fail(c.Name(), limitDetails(problems, 40), "%d problems in the final state (%d of %d IDs present)", len(problems), present, len(h.Keys))
	}
	return pass(c.Name(), "%d of %d IDs present, none lost, no phantom, listings agree", present, len(h.Keys))
}

func opsByKey(ops []Op) map[string][]Op {
	out := map[string][]Op{}
	for _, op := range ops {
		out[op.Key] = append(out[op.Key], op)
	}
	return out
}

// effectiveReturn is when an operation stopped being able to take effect:
// never, for an unknown outcome.
func effectiveReturn(op Op) int64 {
	if op.Outcome == OutcomeUnknown {
		return math.MaxInt64
	}
	return op.CompleteNS
}

func mayHaveApplied(op Op) bool { return op.Outcome == OutcomeOK || op.Outcome == OutcomeUnknown }

func checkKeyFinal(key string, fr FinalRead, ops []Op, origin int64) []string {
	var writes, ackedWrites, deletes, ackedDeletes []Op
	for _, op := range ops {
		switch {
		case op.Kind == OpGet || !mayHaveApplied(op):
		case op.Kind == OpDelete:
			deletes = append(deletes, op)
			if op.Outcome == OutcomeOK {
				ackedDeletes = append(ackedDeletes, op)
			}
		default:
			writes = append(writes, op)
			if op.Outcome == OutcomeOK {
				ackedWrites = append(ackedWrites, op)
			}
		}
	}
	var problems []string
	if !fr.Exists {
		for _, w := range ackedWrites {
			if !slices.ContainsFunc(deletes, func(d Op) bool { return effectiveReturn(d) >= w.InvokeNS }) {
				return append(problems, fmt.Sprintf("key %s LOST: acknowledged %s and no delete could follow it, but the ID is absent",
					key, describeOp(w, origin)))
			}
		}
		return nil
	}
	i := slices.IndexFunc(writes, func(w Op) bool { return w.Value == fr.Value })
	if i < 0 {
		return append(problems, fmt.Sprintf("key %s PHANTOM: final value %q was never written to this ID", key, fr.Value))
	}
	x := writes[i]
	for _, later := range slices.Concat(ackedWrites, ackedDeletes) {
		if later.Index != x.Index && effectiveReturn(x) < later.InvokeNS {
			problems = append(problems, fmt.Sprintf("key %s LOST UPDATE: final value comes from %s, which completed before acknowledged %s began",
				key, describeOp(x, origin), describeOp(later, origin)))
			break
		}
	}
	return problems
}

// checkLists compares every member's linearizable listing with the final
// per-ID reads.
func checkLists(h *History, reads map[string]FinalRead) []string {
	want := map[string]string{}
	for k, fr := range reads {
		if fr.Exists {
			want[k] = fr.Value
		}
	}
	var problems []string
	for _, node := range slices.Sorted(maps.Keys(h.Final.ListErrors)) {
		problems = append(problems, fmt.Sprintf("list via %s failed: %s", node, h.Final.ListErrors[node]))
	}
	for _, node := range slices.Sorted(maps.Keys(h.Final.Lists)) {
		got := h.Final.Lists[node]
		for id := range got {
			if !slices.Contains(h.Keys, id) {
				problems = append(problems, fmt.Sprintf("list via %s: PHANTOM schedule %q the workload never wrote", node, id))
			}
		}
		if !maps.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("list via %s disagrees with the final reads: %s", node, diffMaps(want, got)))
		}
	}
	if len(h.Final.Lists) == 0 {
		problems = append(problems, "no final listing was taken")
	}
	return problems
}

// diffMaps describes how got differs from want.
func diffMaps(want, got map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			out = append(out, k+" missing")
		} else if g != want[k] {
			out = append(out, fmt.Sprintf("%s=%s, want %s", k, g, want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			out = append(out, k+" extra")
		}
	}
	return fmt.Sprint(out)
}
