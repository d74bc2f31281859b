package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"

	"github.com/schedulezero/schedulezero/fsm"
)

// readPollInterval backs up the apply notification while waiting for the
// applied index (Raft's no-op and barrier entries do not notify).
const readPollInterval = 5 * time.Millisecond

// FSM returns the local replicated state. Reading it directly is stale by
// design (a follower lags, a deposed leader may not know it yet); call
// LinearizableRead first for a linearizable read.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// LinearizableRead returns once the local FSM reflects every write
// committed before the call (leader only). It waits for the leader's
// post-election barrier (so an entry of the current term is committed),
// captures the commit index, confirms leadership with a quorum round
// (VerifyLeader), checks the term did not change, and waits until the FSM
// has applied the captured index. ctx bounds the whole call (ErrTimeout).
func (n *Node) LinearizableRead(ctx context.Context) error {
	r, err := n.running()
	if err != nil {
		return err
	}
	if err := n.waitReady(ctx, r); err != nil {
		return err
	}
	index := r.CommitIndex()
	if err := n.waitFuture(ctx, r.VerifyLeader()); err != nil {
		if errors.Is(err, ErrTimeout) {
			return err
		}
		return n.leaderErr()
	}
	if !n.isReadyLeader(r) {
		return n.leaderErr()
	}
	return n.waitApplied(ctx, r, index)
}

// waitReady waits until this node is a ready leader; a node that is not
// the leader fails at once.
func (n *Node) waitReady(ctx context.Context, r *raft.Raft) error {
	for {
		if r.State() != raft.Leader {
			return n.leaderErr()
		}
		term, readyCh := n.lead.ready()
		if term != 0 && n.isReadyLeader(r) {
			return nil
		}
		t := n.wall.NewTimer(readPollInterval * 4)
		select {
		case <-readyCh:
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: waiting for the leader's barrier: %w", ErrTimeout, context.Cause(ctx))
		}
		t.Stop()
	}
}

// waitApplied waits until the FSM reflects index.
func (n *Node) waitApplied(ctx context.Context, r *raft.Raft, index uint64) error {
	for {
		_, _, changed := n.adapter.appliedIndex()
		if n.appliedIndex(r) >= index {
			return nil
		}
		t := n.wall.NewTimer(readPollInterval)
		select {
		case <-changed:
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: waiting for index %d to apply: %w", ErrTimeout, index, context.Cause(ctx))
		case <-n.stopCh:
			t.Stop()
			return ErrStopped
		}
		t.Stop()
	}
}

// WriteSnapshot writes a snapshot of the FSM that reflects every write
// committed before the call to w (leader only). The stream is the fsm
// snapshot format, which RestoreSnapshot accepts.
func (n *Node) WriteSnapshot(ctx context.Context, w io.Writer) error {
	if err := n.LinearizableRead(ctx); err != nil {
		return err
	}
	if _, err := n.fsm.Snapshot().WriteTo(w); err != nil {
		return fmt.Errorf("cluster: write snapshot: %w", err)
	}
	return nil
}

// RestoreSnapshot replaces the state of the whole cluster with the fsm
// snapshot read from r (leader only). The stream is spooled to a temporary
// file in the data dir and decoded once to validate it (ErrInvalidRequest
// if it does not decode); then Raft installs it on the leader and ships it
// to the followers, and RestoreSnapshot returns once an entry after it has
// committed. Proposals in flight during the restore fail with ErrTimeout.
// The Raft configuration is kept; node records come from the snapshot
// (this node's own record is re-proposed if it differs).
func (n *Node) RestoreSnapshot(ctx context.Context, r io.Reader) error {
	if err := n.checkLeader(); err != nil {
		return err
	}
	f, size, err := n.spoolSnapshot(r)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer os.Remove(f.Name())
		defer f.Close()
		meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: size}
		done <- n.raft.Restore(meta, f, n.raftTimeout(ctx))
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return fmt.Errorf("%w: restoring snapshot: %w", ErrTimeout, context.Cause(ctx))
	}
	if err != nil {
		return n.mapApplyErr(err)
	}
	n.log.InfoContext(ctx, "restored snapshot", slog.Int64(logKeyBytes, size), slog.Uint64(logKeyIndex, n.raft.LastIndex()))
	if err := n.ensureNodeRecord(ctx); err != nil {
		n.log.WarnContext(ctx, "re-recording own node after restore failed", slog.Any(logKeyErr, err))
	}
	return nil
}

// spoolSnapshot copies r to a temporary file, validates it by decoding it
// into a scratch FSM and rewinds the file.
func (n *Node) spoolSnapshot(r io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp(filepath.Join(n.cfg.DataDir, "raft"), "restore-*.tmp")
	if err != nil {
		return nil, 0, fmt.Errorf("cluster: spool snapshot: %w", err)
	}
	fail := func(err error) (*os.File, int64, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, 0, err
	}
	size, err := io.Copy(f, r)
	if err != nil {
		return fail(fmt.Errorf("cluster: spool snapshot: %w", err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("cluster: spool snapshot: %w", err))
	}
	if err := fsm.New().Restore(f); err != nil {
		return fail(fmt.Errorf("%w: snapshot does not decode: %w", ErrInvalidRequest, err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("cluster: spool snapshot: %w", err))
	}
	return f, size, nil
}
