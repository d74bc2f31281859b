package cluster

import (
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

const (
	// readySlack is how many entries a follower's applied index may trail
	// the commit index it knows and still count as caught up: one
	// AppendEntries batch, so readiness does not flap under write load.
	readySlack = 64
	// lastContactFactor × heartbeat timeout is how long a follower may go
	// without hearing from the leader and still be ready.
	lastContactFactor = 5
	// maxTailScan bounds the log entries appliedIndex inspects.
	maxTailScan = 1024
	// stateShutdown is Self().State of a node that is not running.
	stateShutdown = "shutdown"
)

// appliedIndex returns the highest Raft index whose effect the local FSM
// holds. The adapter knows the last command or configuration entry it
// applied; entries that never reach the FSM (Raft's no-ops, barriers) are
// counted as applied once Raft has dispatched them and no command before
// them is still pending. After a restore the adapter's index is unknown and
// Raft's last snapshot index is used (it is set once the restore is done,
// and lower before, which only makes the answer conservative).
func (n *Node) appliedIndex(r *raft.Raft) uint64 {
	a, restored, _ := n.adapter.appliedIndex()
	if restored {
		a, _ = strconv.ParseUint(r.Stats()["last_snapshot_index"], 10, 64)
	}
	dispatched := r.AppliedIndex()
	if dispatched <= a || dispatched-a > maxTailScan {
		return a
	}
	for idx := dispatched; idx > a; idx-- {
		var l raft.Log
		if err := n.logs.GetLog(idx, &l); err != nil {
			return a
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return a // still on its way to the FSM
		}
	}
	return dispatched
}

// Self describes this node: addresses, Raft state, indices, digest,
// membership and readiness. It never blocks on Raft's main loop.
func (n *Node) Self() Self {
	s := Self{
		ID: n.cfg.NodeID, HTTPAddr: n.cfg.HTTPAdvertise, RaftAddr: n.advertisedRaftAddr(), ZMQAddr: n.cfg.ZMQAdvertise,
		State: stateShutdown, Schedules: n.fsm.Count(), LastContactMS: -1,
	}
	r, err := n.running()
	if err != nil {
		s.AppliedIndex, _, _ = n.adapter.appliedIndex()
		s.Digest = n.fsm.Digest()
		return s
	}
	s.State = stateLabel(r.State())
	s.AppliedIndex, s.Digest = n.appliedDigest(r)
	_, leaderID := r.LeaderWithID()
	s.LeaderID = string(leaderID)
	if info, ok := n.fsm.Node(s.LeaderID); ok {
		s.LeaderHTTP = info.HTTPAddr
	}
	s.Term, s.CommitIndex, s.LastIndex = r.CurrentTerm(), r.CommitIndex(), r.LastIndex()
	s.Member = n.isMember(r)
	var sinceContact time.Duration
	if r.State() == raft.Leader {
		s.LastContactMS = 0
	} else if lc := r.LastContact(); !lc.IsZero() {
		sinceContact = n.wall.Since(lc)
		s.LastContactMS = sinceContact.Milliseconds()
	}
	s.Ready = n.ready(r, s, sinceContact)
	return s
}

// advertisedRaftAddr is the Raft address peers dial: the configured
// advertise address until Start has resolved the real one.
func (n *Node) advertisedRaftAddr() string {
	if n.state.Load() == stateNew {
		return n.cfg.RaftAdvertise
	}
	return n.raftAddr // written by Start before the state left stateNew
}

// appliedDigest reads the applied index and the digest as a consistent pair
// (retrying if an apply slipped in between).
func (n *Node) appliedDigest(r *raft.Raft) (uint64, string) {
	for range 3 {
		before := n.appliedIndex(r)
		digest := n.fsm.Digest()
		if after := n.appliedIndex(r); after == before {
			return before, digest
		}
	}
	return n.appliedIndex(r), n.fsm.Digest()
}

// ready implements Self().Ready from the values already gathered in s.
func (n *Node) ready(r *raft.Raft, s Self, sinceContact time.Duration) bool {
	if !s.Member || s.LeaderID == "" {
		return false
	}
	if s.State == "leader" {
		return n.isReadyLeader(r)
	}
	return s.State == "follower" && s.AppliedIndex+readySlack >= s.CommitIndex &&
		s.LastContactMS >= 0 && sinceContact < lastContactFactor*n.timing.heartbeat
}

// isMember reports whether this node is in its latest Raft configuration.
func (n *Node) isMember(r *raft.Raft) bool {
	conf, _, err := n.configuration(r)
	if err != nil {
		return false
	}
	_, ok := findServer(conf, n.cfg.NodeID)
	return ok
}

// Ready reports what /readyz serves: this node is a member of a cluster
// with a known leader and caught up (a leader: its post-election barrier is
// done; a follower: applied index within one batch of the commit index and
// recent contact with the leader). Same as Self().Ready.
func (n *Node) Ready() bool { return n.Self().Ready }

// IsLeader reports whether Raft currently considers this node the leader.
// Leader-only work should wait for LeadershipChanges instead, which also
// waits for the post-election barrier.
func (n *Node) IsLeader() bool {
	r, err := n.running()
	return err == nil && r.State() == raft.Leader
}

// Leader names the current leader and its HTTP address (from the FSM's
// node records); fields are empty when unknown.
func (n *Node) Leader() LeaderInfo {
	r, err := n.running()
	if err != nil {
		return LeaderInfo{}
	}
	_, id := r.LeaderWithID()
	li := LeaderInfo{ID: string(id)}
	if info, ok := n.fsm.Node(li.ID); ok {
		li.HTTPAddr = info.HTTPAddr
	}
	return li
}
