package jepsen

import (
	"context"
	"fmt"
	"slices"
)

// partitionNemesis cuts Raft, HTTP-forwarding and ZMQ traffic between
// nodes through the governor's proxies (blackhole, not reset). The
// workload's clients talk to the nodes' direct addresses, which are never
// cut, so a client can still reach a node on the minority side.
//
//   - partition-leader: the leader alone against the rest.
//   - partition-half: a random minority against the majority.
//   - partition-bridge: the leader and one other side cannot talk, a third
//     node (the bridge) talks to both.
//   - partition-one-way: bytes from the leader to the others are dropped,
//     the reverse direction flows.
type partitionNemesis struct{ name string }

func (n *partitionNemesis) Name() string { return n.name }

func (n *partitionNemesis) Start(ctx context.Context, e *env) error {
	var leader string
	if n.name != NemesisPartitionHalf {
		var err error
		if leader, err = e.leader(ctx); err != nil {
			return e.record(n.name, "start", nil, func() (string, error) { return "", err })
		}
	}
	members := e.cl.Members()
	e.rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	switch n.name {
	case NemesisIsolateLeader:
		return n.partition(ctx, e, [][]string{{leader}, e.others(leader)})
	case NemesisPartitionHalf:
		k := len(members) / 2
		return n.partition(ctx, e, [][]string{members[:k], members[k:]})
	case NemesisBridge:
		rest := slices.DeleteFunc(members, func(m string) bool { return m == leader })
		bridge, far := rest[0], rest[1:]
		return e.record(n.name, "start", []string{leader, bridge}, func() (string, error) {
			return fmt.Sprintf("%s cannot reach %v; %s bridges", leader, far, bridge),
				e.gov.Partition(ctx, [][]string{{leader}, far})
		})
	default: // NemesisOneWay
		others := e.others(leader)
		return e.record(n.name, "start", []string{leader}, func() (string, error) {
			return fmt.Sprintf("drop bytes %s → %v", leader, others), e.gov.PartitionOneWay(ctx, []string{leader}, others)
		})
	}
}

func (n *partitionNemesis) partition(ctx context.Context, e *env, groups [][]string) error {
	return e.record(n.name, "start", groups[0], func() (string, error) {
		return fmt.Sprintf("groups %v", groups), e.gov.Partition(ctx, groups)
	})
}

func (n *partitionNemesis) Stop(ctx context.Context, e *env) error {
	return e.record(n.name, "stop", nil, func() (string, error) { return "heal", e.gov.Heal(ctx) })
}
