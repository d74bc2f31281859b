package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
)

// The commit pipeline. Each loop step queues events in l.pend (fire
// decisions, handler acceptances and results, retries, registrations); at
// the end of the step flush cuts them into batches of at most
// MaxFiresPerBatch events and proposes each batch from its own goroutine,
// up to MaxInFlightProposals at once. The loop keeps running meanwhile
// (cluster.Node.Propose coalesces concurrent calls into shared Raft
// entries). Answers come back on l.done and are processed on the loop
// goroutine in submission order, so every completion callback runs where
// all scheduling state lives, without locks.
//
// Fencing: a run has at most one event queued or in flight (runState.busy);
// a schedule has at most one decision group in flight (schedInflight). The
// FSM fences everything anyway (high-water mark, attempt), so a stale
// in-memory view can delay a run, never double it.

// pendKind says what to do when an event's commit returns.
type pendKind uint8

const (
	kindPlain      pendKind = iota // nothing (handler.expired)
	kindDecision                   // run.fired / run.skipped / run.missed
	kindAccepted                   // run.accepted
	kindSucceeded                  // run.succeeded (acks the result)
	kindRetried                    // run.retried (acks a failed result)
	kindTerminal                   // run.failed / run.lost (acks a failed result)
	kindCancelled                  // run.cancelled by overlap cancel_other
	kindRegistered                 // handler.registered (welcomes the instance)
)

// pending is one event to commit and what to do with its result. The
// decision payload lives inline (run) so queuing a decision allocates
// nothing; ev.Run is pointed at it when the batch is cut.
type pending struct {
	ev       fsm.Event
	run      fsm.Run
	kind     pendKind
	end      bool // last event of its group: batches are cut only after one
	buffered bool // decision: buffer_one hold
	ss       *schedState
	rs       *runState
	h        *handlerState
	peer     string // result_ack or welcome destination
}

// batch is one Propose: its events, and their results once it returns.
// Batches are recycled only after a successful Propose: after an error the
// cluster may still be encoding the events (a timed-out proposal), so a
// failed batch is left to the garbage collector.
type batch struct {
	ps       []pending
	evs      []fsm.Event
	res      []fsm.Result
	err      error
	finished bool
}

// push queues p and returns it (valid until the next push).
func (l *leader) push(p pending) *pending {
	p.end = true
	l.pend = append(l.pend, p)
	return &l.pend[len(l.pend)-1]
}

// room reports whether new work (fires, handler messages) may be queued:
// enough for the free pipeline slots plus one batch waiting behind them.
func (l *leader) room() bool {
	free := l.d.cfg.MaxInFlightProposals - l.inflight
	return len(l.pend) < l.d.cfg.MaxFiresPerBatch*(free+1)
}

// flush proposes queued events while the pipeline has room.
func (l *leader) flush() {
	for len(l.pend) > 0 && l.inflight < l.d.cfg.MaxInFlightProposals && l.stopErr == nil {
		n := l.cut()
		b := l.newBatch()
		b.ps = append(b.ps[:0], l.pend[:n]...)
		rest := copy(l.pend, l.pend[n:])
		clear(l.pend[rest:]) // drop references held by the moved-out tail
		l.pend = l.pend[:rest]
		for i := range b.ps {
			ev := b.ps[i].ev
			if b.ps[i].kind == kindDecision {
				ev.Run = &b.ps[i].run
			}
			b.evs = append(b.evs, ev)
		}
		l.inflight++
		l.queue = append(l.queue, b)
		l.wg.Add(1)
		go l.propose(b)
	}
}

// cut returns how many queued events the next batch takes: whole groups,
// up to MaxFiresPerBatch events, but at least one group.
func (l *leader) cut() int {
	limit, last := l.d.cfg.MaxFiresPerBatch, 0
	for i := range l.pend {
		if i >= limit && last > 0 {
			break
		}
		if l.pend[i].end {
			last = i + 1
		}
	}
	if last == 0 {
		last = len(l.pend)
	}
	return last
}

func (l *leader) newBatch() *batch {
	if n := len(l.free); n > 0 {
		b := l.free[n-1]
		l.free = l.free[:n-1]
		return b
	}
	return &batch{}
}

// propose runs one Propose off the loop goroutine. l.done is buffered for
// every in-flight batch, so this never blocks after Propose returns.
func (l *leader) propose(b *batch) {
	defer l.wg.Done()
	ctx, cancel := context.WithTimeout(l.pctx, l.d.cfg.ProposeTimeout)
	b.res, b.err = l.d.cfg.Cluster.Propose(ctx, b.evs...)
	cancel()
	l.done <- b
}

// completed records an answered batch and processes every answered batch
// at the head of the queue, in submission order.
func (l *leader) completed(b *batch) {
	b.finished = true
	for len(l.queue) > 0 && l.queue[0].finished && l.stopErr == nil {
		head := l.queue[0]
		n := copy(l.queue, l.queue[1:]) // at most MaxInFlightProposals
		l.queue[n] = nil
		l.queue = l.queue[:n]
		l.inflight--
		l.finish(head)
	}
}

// finish runs the callbacks of one answered batch.
func (l *leader) finish(b *batch) {
	now := l.now()
	if b.err == nil && len(b.res) != len(b.ps) {
		b.err = fmt.Errorf("dispatch: %d results for %d events", len(b.res), len(b.ps))
	}
	if b.err != nil {
		if leadershipError(b.err) || l.ctx.Err() != nil {
			l.fail(fmt.Errorf("%w: %w", errLeadershipLost, b.err))
			return
		}
		l.d.log.Warn("commit failed; retrying from the FSM state", "events", len(b.ps), "err", b.err)
		for i := range b.ps {
			l.commitFailed(&b.ps[i], now)
		}
		return
	}
	for i := range b.ps {
		l.commitDone(&b.ps[i], b.res[i], now)
	}
	clear(b.ps)
	clear(b.evs)
	b.ps, b.evs, b.res, b.finished = b.ps[:0], b.evs[:0], nil, false
	l.free = append(l.free, b)
}

// commitDone handles one committed event.
func (l *leader) commitDone(p *pending, res fsm.Result, now time.Time) {
	switch p.kind {
	case kindDecision:
		l.decisionDone(p, res, now)
		if p.end && p.ss != nil {
			l.groupDone(p.ss, false, now)
		}
	case kindAccepted:
		l.idle(p.rs, res.Err, now)
	case kindSucceeded:
		l.finished(p.rs, now)
		l.ack(p)
	case kindRetried:
		l.retried(p, res, now)
		l.ack(p)
	case kindTerminal:
		if res.Err == nil && p.ev.Type == fsm.RunLost {
			l.d.m.lost.Inc()
		}
		l.finished(p.rs, now)
		l.ack(p)
	case kindCancelled:
		l.cancelled(p, res, now)
	case kindRegistered:
		l.registeredDone(p, res)
	}
}

// commitFailed handles one event whose commit has an unknown outcome:
// in-memory state is re-read from the FSM, handlers re-send results until
// acknowledged, and fire decisions are retried.
func (l *leader) commitFailed(p *pending, now time.Time) {
	switch p.kind {
	case kindDecision:
		if p.end && p.ss != nil {
			l.groupDone(p.ss, true, now)
		}
	case kindAccepted, kindSucceeded, kindRetried, kindTerminal, kindCancelled:
		l.idle(p.rs, errUnknownOutcome, now)
	}
}

var errUnknownOutcome = errors.New("dispatch: commit outcome unknown")

func leadershipError(err error) bool {
	return errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrNoLeader) || errors.Is(err, cluster.ErrStopped)
}

// fail stops the leader loop with err (first error wins).
func (l *leader) fail(err error) {
	if l.stopErr == nil {
		l.stopErr = err
	}
}
