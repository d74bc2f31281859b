package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"

	"github.com/schedulezero/schedulezero/fsm"
)

// proposal is one Propose call waiting in the batcher's queue.
type proposal struct {
	ctx    context.Context
	events []fsm.Event
	done   chan proposeResult // buffered 1; exactly one send
}

type proposeResult struct {
	results []fsm.Result
	err     error
}

func (p *proposal) reply(results []fsm.Result, err error) {
	p.done <- proposeResult{results: results, err: err}
}

// Propose commits events through Raft and returns one fsm.Result per event,
// in order (leader only). All events of one call land in the same log
// entry, so they apply atomically and in order; concurrent calls are
// batched into shared entries. The leader stamps Event.At on every event.
//
// Errors: ErrNotLeader / ErrNoLeader (not committed; retry on the leader),
// ErrStopped, and ErrTimeout when ctx ends or leadership is lost while the
// entry is in flight — the write may still commit, so the outcome is
// unknown and callers must make retries idempotent. A per-event failure
// (fsm.ErrExists, fsm.ErrNotFound, …) is in the Result, not in err.
func (n *Node) Propose(ctx context.Context, events ...fsm.Event) ([]fsm.Result, error) {
	results, err := n.propose(ctx, events)
	n.metrics.countProposal(err)
	return results, err
}

func (n *Node) propose(ctx context.Context, events []fsm.Event) ([]fsm.Result, error) {
	if err := n.checkLeader(); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return []fsm.Result{}, nil
	}
	p := &proposal{ctx: ctx, events: slices.Clone(events), done: make(chan proposeResult, 1)}
	select {
	case n.proposeCh <- p:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: queueing proposal: %w", ErrTimeout, context.Cause(ctx))
	case <-n.stopCh:
		return nil, ErrStopped
	}
	select {
	case r := <-p.done:
		return r.results, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for commit: %w", ErrTimeout, context.Cause(ctx))
	case <-n.stopCh:
		return nil, ErrStopped
	}
}

// checkLeader returns nil on the leader and the error a non-leader answers
// otherwise.
func (n *Node) checkLeader() error {
	r, err := n.running()
	if err != nil {
		return err
	}
	if r.State() == raft.Leader {
		return nil
	}
	return n.leaderErr()
}

// leaderErr is ErrNotLeader naming the leader when one is known with an
// HTTP address to forward to, ErrNoLeader otherwise.
func (n *Node) leaderErr() error {
	if n.state.Load() == stateStopped {
		return ErrStopped
	}
	li := n.Leader()
	if li.ID == "" || li.ID == n.cfg.NodeID || li.HTTPAddr == "" {
		return ErrNoLeader
	}
	return fmt.Errorf("%w: leader is %s at %s", ErrNotLeader, li.ID, li.HTTPAddr)
}

// runBatcher is the single goroutine that turns queued proposals into log
// entries. It drains whatever is queued (up to MaxBatchEvents events),
// stamps the batch, encodes one entry and hands it to Raft, then moves on
// without waiting for the commit: a waiter goroutine per in-flight entry
// distributes the results. While raft.Apply blocks (the leader loop is
// busy), proposals accumulate and the next entry gets bigger.
func (n *Node) runBatcher() {
	defer n.wg.Done()
	var carry *proposal
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-n.proposeCh:
			case <-n.stopCh:
				n.drainProposals()
				return
			}
		}
		batch, count := []*proposal{first}, len(first.events)
	fill:
		for count < n.cfg.MaxBatchEvents {
			select {
			case p := <-n.proposeCh:
				if count+len(p.events) > n.cfg.MaxBatchEvents {
					carry = p
					break fill
				}
				batch, count = append(batch, p), count+len(p.events)
			default:
				break fill
			}
		}
		n.submit(batch)
	}
}

// drainProposals answers every queued proposal with ErrStopped.
func (n *Node) drainProposals() {
	for {
		select {
		case p := <-n.proposeCh:
			p.reply(nil, ErrStopped)
		default:
			return
		}
	}
}

// submit stamps, encodes and applies one batch of proposals.
func (n *Node) submit(batch []*proposal) {
	live := batch[:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.reply(nil, fmt.Errorf("%w: before proposing: %w", ErrTimeout, context.Cause(p.ctx)))
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	data, events, err := n.encode(live)
	if err != nil {
		n.submitEach(live)
		return
	}
	start := n.wall.Now()
	f := n.raft.Apply(data, n.cfg.ApplyTimeout)
	n.metrics.batchEvents.Observe(float64(events))
	n.wg.Add(1)
	go n.awaitBatch(f, live, events, start)
}

// submitEach retries a batch that failed to encode one proposal at a time,
// so one bad proposal fails alone.
func (n *Node) submitEach(batch []*proposal) {
	if len(batch) == 1 {
		_, _, err := n.encode(batch)
		batch[0].reply(nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err))
		return
	}
	for _, p := range batch {
		n.submit([]*proposal{p})
	}
}

// encode stamps every event with the leader's time and encodes the batch
// as one entry.
func (n *Node) encode(batch []*proposal) ([]byte, int, error) {
	now := n.clock.Now().UTC()
	count := 0
	for _, p := range batch {
		count += len(p.events)
	}
	events := make([]fsm.Event, 0, count)
	for _, p := range batch {
		for i := range p.events {
			p.events[i].At = now
		}
		events = append(events, p.events...)
	}
	data, err := fsm.Encode(events)
	if err == nil && len(data) > fsm.MaxEntryBytes {
		err = fmt.Errorf("entry of %d bytes exceeds %d", len(data), fsm.MaxEntryBytes)
	}
	return data, len(events), err
}

// awaitBatch waits for one entry and hands each proposal its results.
func (n *Node) awaitBatch(f raft.ApplyFuture, batch []*proposal, events int, start time.Time) {
	defer n.wg.Done()
	bindShutdown(f, n.raftDown)
	if err := f.Error(); err != nil {
		err = n.mapApplyErr(err)
		for _, p := range batch {
			p.reply(nil, err)
		}
		return
	}
	n.metrics.applyDuration.Observe(n.wall.Since(start).Seconds())
	results, ok := f.Response().([]fsm.Result)
	if ok && len(results) == 1 && events != 1 && results[0].Err != nil {
		// The entry did not decode; fsm.Apply reports that as one result.
		for _, p := range batch {
			p.reply(nil, fmt.Errorf("cluster: entry %d rejected: %w", f.Index(), results[0].Err))
		}
		return
	}
	if !ok || len(results) != events {
		for _, p := range batch {
			p.reply(nil, fmt.Errorf("cluster: entry %d: unexpected apply response %T", f.Index(), f.Response()))
		}
		return
	}
	for _, p := range batch {
		p.reply(results[:len(p.events):len(p.events)], nil)
		results = results[len(p.events):]
	}
}

// mapApplyErr translates Raft's apply and membership errors into this
// package's sentinels.
func (n *Node) mapApplyErr(err error) error {
	switch {
	case errors.Is(err, ErrTimeout):
		return err // already ours (waitFuture: ctx ended)
	case errors.Is(err, raft.ErrNotLeader):
		// Rejected before it was appended: not committed.
		return n.leaderErr()
	case errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// Rejected before it was appended: not committed; retry shortly.
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrAbortedByRestore):
		// Appended locally, then leadership was lost (or a restore
		// superseded it): it may or may not commit.
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrStopped
	default:
		return fmt.Errorf("cluster: raft: %w", err)
	}
}
