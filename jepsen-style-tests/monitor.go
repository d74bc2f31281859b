package jepsen

import (
	"context"
	"time"

	"github.com/schedulezero/schedulezero/governor"
)

// monitor polls every member's /v1/cluster/self until ctx ends and records
// what each reports: the source of leader changes in the summary and of the
// leader-per-term check.
func monitor(ctx context.Context, cl *cluster, h *History, every time.Duration) {
	for {
		for id, r := range cl.selfAll(ctx) {
			o := Observation{AtNS: governor.MonotonicNS(), Node: id}
			if r.err != nil {
				o.Error = r.err.Error()
			} else {
				o.State, o.Term, o.LeaderID, o.Ready, o.Applied = r.self.State, r.self.Term, r.self.LeaderID, r.self.Ready, r.self.AppliedIndex
			}
			h.AddObservation(o)
		}
		if sleepCtx(ctx, every) != nil {
			return
		}
	}
}

// LeaderTerms returns the first node seen leading each term, in order of
// observation, and the terms in which two different nodes claimed
// leadership (which Raft forbids). A claim counts only when the node made
// it in at least two polls: /v1/cluster/self reads the Raft state and the
// term separately, so a leader stepping down can be seen once as "leader"
// of the term that deposed it.
func LeaderTerms(obs []Observation) (leaders []TermLeader, conflicts []TermLeader) {
	type claim struct {
		term uint64
		node string
	}
	count := map[claim]int{}
	first := map[uint64]bool{}
	for _, o := range obs {
		if o.State != "leader" {
			continue
		}
		c := claim{o.Term, o.Node}
		count[c]++
		if !first[o.Term] {
			first[o.Term] = true
			leaders = append(leaders, TermLeader{Term: o.Term, Node: o.Node, AtNS: o.AtNS})
		}
		if count[c] != 2 {
			continue
		}
		for other, n := range count {
			if other.term == o.Term && other.node != o.Node && n >= 2 {
				conflicts = append(conflicts, TermLeader{Term: o.Term, Node: o.Node, AtNS: o.AtNS})
				break
			}
		}
	}
	return leaders, conflicts
}

// TermLeader is a node seen leading in a term.
type TermLeader struct {
	Term uint64
	Node string
	AtNS int64
}
