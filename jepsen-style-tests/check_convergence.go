package jepsen

import (
	"fmt"
	"maps"
	"slices"
)

// Convergence checks guarantee 6: after the final heal and quiescence every
// member reports the same digest at the same applied index, and its local
// (stale) listing equals the linearizable final state. It also checks
// Raft's election safety on the monitor's observations: at most one leader
// per term.
type Convergence struct{}

// Name implements Checker.
func (Convergence) Name() string { return "convergence" }

// Check implements Checker.
func (c Convergence) Check(h *History) Result {
	var problems []string
	f := h.Final
	if f.QuiescedNS == 0 {
		problems = append(problems, "members never agreed on applied index and digest within the bound: "+describeStates(f.Nodes))
	} else if !agree(f.Nodes) {
		problems = append(problems, "members disagree: "+describeStates(f.Nodes))
	}
	want := map[string]string{}
	for _, fr := range f.Reads {
		if fr.Error == "" && fr.Exists {
			want[fr.Key] = fr.Value
		}
	}
	for _, node := range slices.Sorted(maps.Keys(f.StaleLists)) {
		if got := f.StaleLists[node]; !maps.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("local state of %s differs from the linearizable state: %s", node, diffMaps(want, got)))
		}
	}
	if len(f.StaleLists) == 0 {
		problems = append(problems, "no local listing was taken")
	}
	_, conflicts := LeaderTerms(h.Observations)
	for _, tl := range conflicts {
		problems = append(problems, fmt.Sprintf("two leaders in term %d: %s also reported itself leader at %s", tl.Term, tl.Node, relTime(tl.AtNS, h.StartNS)))
	}
	if len(problems) > 0 {
		return fail(c.Name(), limitDetails(problems, 20), "%d problems", len(problems))
	}
	n := f.Nodes[0]
	return pass(c.Name(), "%d members at applied index %d, digest %.12s…, agreed %s after the workload stopped",
		len(f.Nodes), n.Applied, n.Digest, durationNS(max(f.QuiescedNS-h.EndNS, 0)))
}

func describeStates(states []NodeState) string {
	var out []string
	for _, s := range states {
		if s.Error != "" {
			out = append(out, fmt.Sprintf("%s: %s", s.Node, s.Error))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s term %d applied %d commit %d digest %.12s", s.Node, s.State, s.Term, s.Applied, s.Commit, s.Digest))
	}
	return fmt.Sprint(out)
}
