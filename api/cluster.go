package api

import (
	"context"
	"io"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

// Cluster is what the API needs from the replicated core; *cluster.Node
// implements it. Declared here, on the consumer side, so the API can be
// tested against a fake.
type Cluster interface {
	// Propose commits events through Raft (leader only: cluster.ErrNotLeader
	// otherwise, cluster.ErrNoLeader when none is known) and returns one
	// Result per event. The leader stamps Event.At.
	Propose(ctx context.Context, events ...fsm.Event) ([]fsm.Result, error)
	// LinearizableRead returns once local reads reflect every write
	// committed before the call (leader only: cluster.ErrNotLeader otherwise).
	LinearizableRead(ctx context.Context) error
	// FSM is the local replicated state.
	FSM() *fsm.FSM
	// Self describes this node.
	Self() cluster.Self
	// Leader names the current leader and its HTTP address.
	Leader() cluster.LeaderInfo
	// Ready reports /readyz: member, leader known, caught up.
	Ready() bool
	// Members lists the Raft configuration with addresses.
	Members(ctx context.Context) ([]cluster.Member, error)
	// AddMember adds a node as non-voter and promotes it once caught up (leader only).
	AddMember(ctx context.Context, req cluster.JoinRequest) error
	// JoinCluster makes this node join the cluster of the member at memberHTTP.
	JoinCluster(ctx context.Context, memberHTTP string) error
	// Leave removes this node from its cluster gracefully.
	Leave(ctx context.Context) error
	// RemoveMember forcibly removes a member (leader only).
	RemoveMember(ctx context.Context, id string) error
	// TransferLeadership hands leadership to id, or to any voter when id is "" (leader only).
	TransferLeadership(ctx context.Context, id string) error
	// WriteSnapshot writes a linearizable snapshot of the FSM state to w (leader only).
	WriteSnapshot(ctx context.Context, w io.Writer) error
	// RestoreSnapshot replaces the cluster state with the snapshot read from r (leader only).
	RestoreSnapshot(ctx context.Context, r io.Reader) error
	// BenchCommits commits n single-entry proposals of payload bytes that
	// leave the replicated state unchanged, concurrency at a time, and
	// reports the raw commit rate (leader only; a diagnostic).
	BenchCommits(ctx context.Context, n, concurrency, payload int) (cluster.CommitBench, error)
}
