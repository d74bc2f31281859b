package cluster

import (
	"errors"
	"time"
)

// Sentinel errors returned by Node methods. Callers compare with errors.Is.
var (
	// ErrNotLeader: the operation must run on the leader and this node is
	// not it. The API forwards the request to Leader().HTTPAddr.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrNoLeader: no leader is known (election in progress, no quorum).
	// The API answers 503 with a Retry-After hint.
	ErrNoLeader = errors.New("cluster: no leader")
	// ErrNotMember: the node is not (or no longer) part of a cluster.
	ErrNotMember = errors.New("cluster: not a member of a cluster")
	// ErrUnknownMember: no member with that ID.
	ErrUnknownMember = errors.New("cluster: unknown member")
	// ErrStopped: the node has been stopped.
	ErrStopped = errors.New("cluster: node stopped")
	// ErrTimeout: the operation did not complete before its deadline; its
	// outcome is unknown (a write may still commit).
	ErrTimeout = errors.New("cluster: timed out, outcome unknown")
	// ErrInvalidConfig: a Config field is missing or malformed.
	ErrInvalidConfig = errors.New("cluster: invalid config")
	// ErrInvalidRequest: the arguments of a cluster operation are malformed
	// or the operation is impossible in the current configuration (for
	// example: joining with an empty ID, removing the last voter, restoring a
	// snapshot that does not decode). The API answers 400.
	ErrInvalidRequest = errors.New("cluster: invalid request")
)

// Member describes one server of the Raft configuration, joined with the
// addresses recorded in the replicated state.
type Member struct {
	ID       string `json:"id"`
	HTTPAddr string `json:"http_addr"`
	RaftAddr string `json:"raft_addr"`
	ZMQAddr  string `json:"zmq_addr"`
	// Suffrage is "voter" or "nonvoter".
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
	// LastContact is the leader's last contact with this member as seen by
	// the node answering (zero when unknown or for the leader itself).
	LastContact  *time.Time `json:"last_contact,omitempty"`
	AppliedIndex uint64     `json:"applied_index,omitempty"`
}

// Self is this node's view of itself and the cluster (GET /v1/cluster/self).
type Self struct {
	ID           string `json:"id"`
	HTTPAddr     string `json:"http_addr"`
	RaftAddr     string `json:"raft_addr"`
	ZMQAddr      string `json:"zmq_addr"`
	State        string `json:"state"` // leader|follower|candidate|shutdown
	LeaderID     string `json:"leader_id"`
	LeaderHTTP   string `json:"leader_http_addr"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	LastIndex    uint64 `json:"last_index"`
	Digest       string `json:"digest"`
	Schedules    int    `json:"schedules"`
	Member       bool   `json:"member"`
	// Ready mirrors /readyz: member of a cluster with a known leader and caught up.
	Ready bool `json:"ready"`
	// LastContact is the time since this follower last heard from the leader.
	LastContactMS int64 `json:"last_contact_ms"`
}

// JoinRequest asks the leader to add a node to the cluster.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	ZMQAddr  string `json:"zmq_addr"`
}

// LeaderInfo names the current leader ("" fields when none is known).
type LeaderInfo struct {
	ID       string
	HTTPAddr string
}
