package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/schedulezero/schedulezero/fsm"
)

// barrierTimeout bounds the post-election barrier (Consul and Nomad use the
// same figure); leaderRetryDelay spaces retries of the leader set-up.
const (
	barrierTimeout   = 2 * time.Minute
	leaderRetryDelay = 500 * time.Millisecond
)

// leadership holds the leader-ready flag and the LeadershipChanges channel.
type leadership struct {
	mu        sync.Mutex
	readyTerm uint64        // term whose barrier and node record are done; 0 = not ready
	readyCh   chan struct{} // closed when readyTerm is set, replaced when cleared
	published bool          // last value sent on changes

	changes chan bool // buffered 1, coalescing
	kick    chan struct{}
}

func (l *leadership) init() {
	l.readyCh = make(chan struct{})
	l.changes = make(chan bool, 1)
	l.kick = make(chan struct{}, 1)
}

// LeadershipChanges returns the channel on which the node reports
// leadership for leader-only services (dispatch/): true once this node is
// leader AND its post-election barrier and node record are committed (its
// FSM holds every entry of earlier terms), false when leadership is lost.
// The channel is buffered and coalescing: a slow receiver sees only the
// latest value, so true followed by true means "lost and regained" and the
// receiver must restart its leader work. Sends never block Raft. Every call
// returns the same channel; use one receiver.
func (n *Node) LeadershipChanges() <-chan bool { return n.lead.changes }

// publishLocked replaces any unread value on the changes channel with v.
func (l *leadership) publishLocked(v bool) {
	select {
	case <-l.changes:
	default:
	}
	l.changes <- v
	l.published = v
}

// setReady marks term ready and publishes true.
func (l *leadership) setReady(term uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.readyTerm = term
	close(l.readyCh)
	l.publishLocked(true)
}

// clearReady drops the ready flag and publishes false if true was the last
// published value.
func (l *leadership) clearReady() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.readyTerm != 0 {
		l.readyTerm = 0
		l.readyCh = make(chan struct{})
	}
	if l.published {
		l.publishLocked(false)
	}
}

// ready returns the ready term and a channel closed when it is next set.
func (l *leadership) ready() (uint64, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.readyTerm, l.readyCh
}

// kickPromotion wakes the promotion loop early (after AddMember).
func (l *leadership) kickPromotion() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// isReadyLeader reports whether this node leads and its leader set-up for
// the current term is complete.
func (n *Node) isReadyLeader(r *raft.Raft) bool {
	term, _ := n.lead.ready()
	return term != 0 && r.State() == raft.Leader && r.CurrentTerm() == term
}

// runNotify is the one consumer of Raft's NotifyCh. It never calls Raft
// synchronously: on every transition it cancels the current leader work
// and, on a gain, starts a new leaderWork that first waits for the old one
// to exit. true→true (lost and regained) restarts the leader work.
func (n *Node) runNotify() {
	defer n.wg.Done()
	var cancel context.CancelFunc
	var done chan struct{}
	for {
		select {
		case <-n.stopCh:
			if cancel != nil {
				cancel()
			}
			n.lead.clearReady()
			return
		case isLeader := <-n.notifyCh:
			if cancel != nil {
				cancel()
				cancel = nil
			}
			n.lead.clearReady()
			if !isLeader {
				n.log.Info("lost leadership")
				continue
			}
			n.log.Info("gained leadership, waiting for barrier")
			var ctx context.Context
			ctx, cancel = context.WithCancel(n.baseCtx)
			prev := done
			done = make(chan struct{})
			n.wg.Add(1)
			go n.leaderWork(ctx, prev, done)
		}
	}
}

// leaderWork runs while this node leads: barrier, own node record, ready
// flag, then the promotion loop until ctx ends.
func (n *Node) leaderWork(ctx context.Context, prev <-chan struct{}, done chan<- struct{}) {
	defer n.wg.Done()
	defer close(done)
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return
		}
	}
	term := n.raft.CurrentTerm()
	start := n.wall.Now()
	if !n.retryLeader(ctx, "barrier", func() error { return n.waitFuture(ctx, n.raft.Barrier(barrierTimeout)) }) {
		return
	}
	if !n.retryLeader(ctx, "node record", func() error { return n.ensureNodeRecord(ctx) }) {
		return
	}
	if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
		return // lost meanwhile; runNotify has a transition queued
	}
	n.lead.setReady(term)
	n.log.InfoContext(ctx, "leader ready", slog.Uint64(logKeyTerm, term),
		slog.Duration(logKeyDuration, n.wall.Since(start)))
	n.runPromotion(ctx)
}

// retryLeader runs step until it succeeds, ctx ends or leadership is lost.
func (n *Node) retryLeader(ctx context.Context, what string, step func() error) bool {
	for {
		err := step()
		if err == nil {
			return true
		}
		if ctx.Err() != nil || n.raft.State() != raft.Leader {
			return false
		}
		n.log.WarnContext(ctx, "leader set-up step failed, retrying", slog.String("step", what), slog.Any(logKeyErr, err))
		if n.sleep(ctx, leaderRetryDelay) != nil {
			return false
		}
	}
}

// selfInfo is this node's record as it should be in the FSM.
func (n *Node) selfInfo() fsm.NodeInfo {
	return fsm.NodeInfo{ID: n.cfg.NodeID, HTTPAddr: n.cfg.HTTPAdvertise, RaftAddr: n.raftAddr, ZMQAddr: n.cfg.ZMQAdvertise}
}

// ensureNodeRecord proposes this node's NodeInfo if the FSM lacks it or
// holds different addresses.
func (n *Node) ensureNodeRecord(ctx context.Context) error {
	return n.upsertNode(ctx, n.selfInfo())
}

// upsertNode proposes info unless the FSM already holds exactly it.
func (n *Node) upsertNode(ctx context.Context, info fsm.NodeInfo) error {
	if cur, ok := n.fsm.Node(info.ID); ok && cur == info {
		return nil
	}
	results, err := n.Propose(ctx, fsm.Event{Type: fsm.NodeUpserted, Node: &info})
	if err != nil {
		return err
	}
	if results[0].Err != nil {
		return results[0].Err
	}
	n.log.InfoContext(ctx, "recorded node addresses", slog.String(logKeyPeerID, info.ID),
		slog.String("http_addr", info.HTTPAddr), slog.String(logKeyAddr, info.RaftAddr))
	return nil
}
