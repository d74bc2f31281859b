package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/schedulezero/schedulezero/fsm"
)

// Membership parameters.
const (
	// promoteInterval is how often the leader checks non-voters;
	// promoteRetryInterval replaces it while a non-voter waits.
	promoteInterval      = 500 * time.Millisecond
	promoteRetryInterval = 100 * time.Millisecond
	// promoteMaxLag is how many entries a non-voter may trail the leader's
	// commit index and still be promoted.
	promoteMaxLag = 16
	// configPollInterval is how often waits on the Raft configuration poll
	// it (GetConfiguration is a cheap atomic load).
	configPollInterval = 50 * time.Millisecond
	// removeGracePeriod bounds how long a leaving follower waits to see its
	// own removal after the leader committed it (Nomad uses the same 5 s).
	removeGracePeriod = 5 * time.Second
	// selfFetchTimeout bounds one GET /v1/cluster/self of a non-voter.
	selfFetchTimeout = 2 * time.Second
)

// Suffrage values of Member.Suffrage.
const (
	SuffrageVoter    = "voter"
	SuffrageNonvoter = "nonvoter"
)

func suffrage(s raft.ServerSuffrage) string {
	if s == raft.Voter {
		return SuffrageVoter
	}
	return SuffrageNonvoter
}

// configuration returns the latest Raft configuration (possibly not yet
// committed) and its index. It never blocks.
func (n *Node) configuration(r *raft.Raft) (raft.Configuration, uint64, error) {
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, 0, fmt.Errorf("cluster: raft configuration: %w", err)
	}
	return f.Configuration(), f.Index(), nil
}

func findServer(c raft.Configuration, id string) (raft.Server, bool) {
	for _, s := range c.Servers {
		if string(s.ID) == id {
			return s, true
		}
	}
	return raft.Server{}, false
}

// Members lists the latest Raft configuration joined with the addresses in
// the FSM, sorted by ID. It works on every node; a follower answers from
// its own (possibly slightly stale) view.
func (n *Node) Members(ctx context.Context) ([]Member, error) {
	r, err := n.running()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	conf, _, err := n.configuration(r)
	if err != nil {
		return nil, err
	}
	_, leaderID := r.LeaderWithID()
	out := make([]Member, 0, len(conf.Servers))
	for _, s := range conf.Servers {
		info, _ := n.fsm.Node(string(s.ID))
		m := Member{
			ID: string(s.ID), HTTPAddr: info.HTTPAddr, RaftAddr: string(s.Address), ZMQAddr: info.ZMQAddr,
			Suffrage: suffrage(s.Suffrage), Leader: s.ID == leaderID,
		}
		if m.ID == n.cfg.NodeID {
			m.AppliedIndex = n.appliedIndex(r)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// AddMember adds the node described by req (leader only). It is
// idempotent: a member with the same ID and Raft address is left as it is;
// a member with the same ID or the same address (but not both) is removed
// first. The node's addresses are recorded in the FSM, it is added as a
// non-voter, and AddMember waits (bounded by ctx) until the promotion loop
// has made it a voter and that configuration is committed. If ctx ends first the error wraps ErrTimeout; the
// node stays a non-voter and is promoted later in the background.
func (n *Node) AddMember(ctx context.Context, req JoinRequest) error {
	if req.ID == "" || req.RaftAddr == "" || req.HTTPAddr == "" {
		return fmt.Errorf("%w: join request needs id, raft_addr and http_addr", ErrInvalidRequest)
	}
	if err := n.checkLeader(); err != nil {
		return err
	}
	if err := n.addNonvoter(ctx, req); err != nil {
		return err
	}
	n.lead.kickPromotion()
	return n.waitConfig(ctx, func(c raft.Configuration, index uint64) bool {
		s, ok := findServer(c, req.ID)
		return ok && s.Suffrage == raft.Voter && string(s.Address) == req.RaftAddr && index <= n.raft.CommitIndex()
	}, fmt.Sprintf("%s is still a non-voter (it is promoted once caught up)", req.ID))
}

// addNonvoter performs the configuration part of AddMember.
func (n *Node) addNonvoter(ctx context.Context, req JoinRequest) error {
	if req.ID == n.cfg.NodeID {
		if req.RaftAddr == n.raftAddr {
			return nil // the leader itself: already a voter
		}
		return fmt.Errorf("%w: %s is the leader's own ID", ErrInvalidRequest, req.ID)
	}
	conf, index, err := n.configuration(n.raft)
	if err != nil {
		return err
	}
	present := false
	for _, s := range conf.Servers {
		sameID, sameAddr := string(s.ID) == req.ID, string(s.Address) == req.RaftAddr
		switch {
		case sameID && sameAddr:
			present = true
		case sameID || sameAddr:
			if string(s.ID) == n.cfg.NodeID {
				return fmt.Errorf("%w: %s at %s conflicts with the leader itself", ErrInvalidRequest, req.ID, req.RaftAddr)
			}
			n.log.InfoContext(ctx, "removing stale member before re-adding", slog.String(logKeyPeerID, string(s.ID)),
				slog.String(logKeyAddr, string(s.Address)))
			if err := n.removeServer(ctx, s.ID, index); err != nil {
				return err
			}
			if _, index, err = n.configuration(n.raft); err != nil {
				return err
			}
		}
	}
	info := fsm.NodeInfo{ID: req.ID, HTTPAddr: req.HTTPAddr, RaftAddr: req.RaftAddr, ZMQAddr: req.ZMQAddr}
	if err := n.upsertNode(ctx, info); err != nil {
		return err
	}
	if present {
		return nil
	}
	f := n.raft.AddNonvoter(raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr), index, n.raftTimeout(ctx))
	if err := n.waitFuture(ctx, f); err != nil {
		return n.mapApplyErr(err)
	}
	n.log.InfoContext(ctx, "added non-voter", slog.String(logKeyPeerID, req.ID), slog.String(logKeyAddr, req.RaftAddr))
	return nil
}

// removeServer removes id from the configuration.
func (n *Node) removeServer(ctx context.Context, id raft.ServerID, prevIndex uint64) error {
	if err := n.waitFuture(ctx, n.raft.RemoveServer(id, prevIndex, n.raftTimeout(ctx))); err != nil {
		return n.mapApplyErr(err)
	}
	n.log.InfoContext(ctx, "removed member", slog.String(logKeyPeerID, string(id)))
	return nil
}

// waitConfig polls the local configuration until cond holds for it (and
// its log index) or ctx ends.
func (n *Node) waitConfig(ctx context.Context, cond func(raft.Configuration, uint64) bool, what string) error {
	for {
		r, err := n.running()
		if err != nil {
			return err
		}
		conf, index, err := n.configuration(r)
		if err != nil {
			return err
		}
		if cond(conf, index) {
			return nil
		}
		if err := n.sleep(ctx, configPollInterval); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrTimeout, what, context.Cause(ctx))
		}
	}
}

// runPromotion promotes caught-up non-voters until ctx ends (leader only).
func (n *Node) runPromotion(ctx context.Context) {
	t := n.wall.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-n.lead.kick:
		}
		if n.promoteOnce(ctx) {
			t.Reset(promoteRetryInterval)
		} else {
			t.Reset(promoteInterval)
		}
	}
}

// promoteOnce checks every non-voter once. A non-voter is promoted when its
// /v1/cluster/self reports its own ID, membership (it has received the
// configuration that adds it, which proves Raft can reach it) and an
// applied index within promoteMaxLag of the leader's commit index. It
// reports whether a non-voter is still waiting.
func (n *Node) promoteOnce(ctx context.Context) (waiting bool) {
	conf, index, err := n.configuration(n.raft)
	if err != nil {
		return false
	}
	for _, s := range conf.Servers {
		if s.Suffrage != raft.Nonvoter || ctx.Err() != nil {
			continue
		}
		ok, why := n.caughtUp(ctx, string(s.ID))
		if !ok {
			n.log.DebugContext(ctx, "non-voter not promoted yet", slog.String(logKeyPeerID, string(s.ID)), slog.String("reason", why))
			waiting = true
			continue
		}
		f := n.raft.AddVoter(s.ID, s.Address, index, n.cfg.ApplyTimeout)
		if err := n.waitFuture(ctx, f); err != nil {
			n.log.WarnContext(ctx, "promoting non-voter failed", slog.String(logKeyPeerID, string(s.ID)), slog.Any(logKeyErr, err))
			return true // the configuration changed; re-read it on the next round
		}
		index = f.Index()
		n.log.InfoContext(ctx, "promoted non-voter to voter", slog.String(logKeyPeerID, string(s.ID)),
			slog.Uint64(logKeyIndex, index))
	}
	return waiting
}

// caughtUp asks the non-voter id for its status.
func (n *Node) caughtUp(ctx context.Context, id string) (bool, string) {
	info, ok := n.fsm.Node(id)
	if !ok || info.HTTPAddr == "" {
		return false, "no HTTP address recorded"
	}
	fctx, cancel := context.WithTimeout(ctx, selfFetchTimeout)
	defer cancel()
	self, err := n.fetchSelf(fctx, info.HTTPAddr)
	switch {
	case err != nil:
		return false, err.Error()
	case self.ID != id:
		return false, fmt.Sprintf("%s answers as %q", info.HTTPAddr, self.ID)
	case !self.Member:
		return false, "has not received the configuration yet"
	case self.AppliedIndex+promoteMaxLag < n.raft.CommitIndex():
		return false, fmt.Sprintf("applied %d, leader commit %d", self.AppliedIndex, n.raft.CommitIndex())
	}
	return true, ""
}

// RemoveMember removes the member id from the configuration and its record
// from the FSM (leader only). It returns ErrUnknownMember when id is
// neither in the configuration nor in the FSM; a member already gone from
// the configuration whose record remains is cleaned up, so a retry after a
// partial failure completes. Removing the leader itself is Leave.
func (n *Node) RemoveMember(ctx context.Context, id string) error {
	if err := n.checkLeader(); err != nil {
		return err
	}
	if id == n.cfg.NodeID {
		return n.leaveAsLeader(ctx)
	}
	conf, index, err := n.configuration(n.raft)
	if err != nil {
		return err
	}
	if _, ok := findServer(conf, id); ok {
		if err := n.removeServer(ctx, raft.ServerID(id), index); err != nil {
			return err
		}
	} else if _, ok := n.fsm.Node(id); !ok {
		return fmt.Errorf("%w: %s", ErrUnknownMember, id)
	}
	return n.removeNodeRecord(ctx, id)
}

// removeNodeRecord proposes NodeRemoved for id; a missing record is fine.
func (n *Node) removeNodeRecord(ctx context.Context, id string) error {
	results, err := n.Propose(ctx, fsm.Event{Type: fsm.NodeRemoved, ID: id})
	if err != nil {
		return err
	}
	if err := results[0].Err; err != nil && !errors.Is(err, fsm.ErrNotFound) {
		return err
	}
	return nil
}

// TransferLeadership hands leadership to the voter id, or to the most
// up-to-date voter when id is "" (leader only). ErrUnknownMember if id is
// not in the configuration; transferring to this node itself is a no-op.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	if err := n.checkLeader(); err != nil {
		return err
	}
	var f raft.Future
	switch {
	case id == "":
		f = n.raft.LeadershipTransfer()
	case id == n.cfg.NodeID:
		return nil
	default:
		conf, _, err := n.configuration(n.raft)
		if err != nil {
			return err
		}
		s, ok := findServer(conf, id)
		if !ok {
			return fmt.Errorf("%w: %s", ErrUnknownMember, id)
		}
		if s.Suffrage != raft.Voter {
			return fmt.Errorf("%w: %s is not a voter", ErrInvalidRequest, id)
		}
		f = n.raft.LeadershipTransferToServer(s.ID, s.Address)
	}
	if err := n.waitFuture(ctx, f); err != nil {
		return n.mapApplyErr(err)
	}
	_, leader := n.raft.LeaderWithID()
	n.log.InfoContext(ctx, "leadership transferred", slog.String(logKeyLeaderID, string(leader)))
	return nil
}

// Leave removes this node from its cluster. A leader with other voters
// removes its own record and itself (Raft then steps it down); a follower
// asks the leader over HTTP (DELETE <leader>/v1/cluster/members/<id>) and
// waits until it sees its removal. The node keeps running, outside the
// cluster. ErrNotMember if it is not a member; ErrInvalidRequest if it is
// the only voter.
func (n *Node) Leave(ctx context.Context) error {
	r, err := n.running()
	if err != nil {
		return err
	}
	conf, _, err := n.configuration(r)
	if err != nil {
		return err
	}
	if _, ok := findServer(conf, n.cfg.NodeID); !ok {
		return ErrNotMember
	}
	if r.State() == raft.Leader {
		return n.leaveAsLeader(ctx)
	}
	return n.leaveAsFollower(ctx)
}

// leaveAsLeader removes the leader's own record, then itself.
func (n *Node) leaveAsLeader(ctx context.Context) error {
	if !n.hasOtherVoters() {
		return fmt.Errorf("%w: %s is the only voter; it cannot leave", ErrInvalidRequest, n.cfg.NodeID)
	}
	if err := n.removeNodeRecord(ctx, n.cfg.NodeID); err != nil {
		return err
	}
	if err := n.removeServer(ctx, raft.ServerID(n.cfg.NodeID), 0); err != nil {
		// Still a member: put the record back (best effort; the next leader
		// re-adds it for itself on election anyway).
		if rerr := n.ensureNodeRecord(ctx); rerr != nil {
			n.log.WarnContext(ctx, "restoring own node record failed", slog.Any(logKeyErr, rerr))
		}
		return err
	}
	n.log.InfoContext(ctx, "left the cluster (was leader)")
	return nil
}

// leaveAsFollower asks the leader to remove this node and waits to see it.
func (n *Node) leaveAsFollower(ctx context.Context) error {
	if err := n.requestRemoval(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, removeGracePeriod)
	defer cancel()
	err := n.waitConfig(wctx, func(c raft.Configuration, _ uint64) bool {
		_, ok := findServer(c, n.cfg.NodeID)
		return !ok
	}, "waiting to see own removal")
	if err != nil && ctx.Err() == nil {
		// The leader committed the removal; this node may simply not have
		// received that entry (the leader stops replicating to a removed
		// server right away).
		n.log.WarnContext(ctx, "removal committed by the leader but not seen locally", slog.Any(logKeyErr, err))
		err = nil
	}
	if err == nil {
		n.log.InfoContext(ctx, "left the cluster")
	}
	return err
}
