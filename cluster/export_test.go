package cluster

import (
	"context"
	"strconv"
)

// Crash stops the node without a leadership transfer, as a killed process
// would (Raft shuts down, stores close; nothing is handed over).
func (n *Node) Crash() error { return n.stop(context.Background(), false) }

// FSMRestores counts snapshot restores into this node's FSM (start-up,
// InstallSnapshot and user restores).
func (n *Node) FSMRestores() uint64 { return n.adapter.restores.Load() }

// LastSnapshotIndex is Raft's last snapshot index on this node.
func (n *Node) LastSnapshotIndex() uint64 {
	v, _ := strconv.ParseUint(n.raft.Stats()["last_snapshot_index"], 10, 64)
	return v
}

// ForceSnapshot takes a Raft snapshot now.
func (n *Node) ForceSnapshot() error { return n.raft.Snapshot().Error() }

// WithMaxRPCsInFlight sets the transport's MaxRPCsInFlight (1 = no
// pipelining).
func WithMaxRPCsInFlight(n int) func(*Config) {
	return func(c *Config) { c.maxRPCsInFlight = n }
}

// FirstLogIndex is the first index in this node's Raft log store.
func (n *Node) FirstLogIndex() uint64 {
	v, _ := n.logs.FirstIndex()
	return v
}

// TrailingLogs is the TrailingLogs value Raft currently uses.
func (n *Node) TrailingLogs() uint64 { return n.raft.ReloadableConfig().TrailingLogs }
