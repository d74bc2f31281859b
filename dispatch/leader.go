package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

// errLeadershipLost stops the leader loop: Propose said this node no
// longer leads, so nothing more may be decided or sent.
var errLeadershipLost = errors.New("dispatch: leadership lost")

const inboxSize = 4096

// leader is the state of one leader term. Only its run goroutine touches
// the fields below inbox/wake.
type leader struct {
	d     *Dispatcher
	term  uint64
	inbox chan transport.Inbound
	wake  chan struct{}
	// forceSync makes the next step rescan the FSM (set by Trigger).
	forceSync atomic.Bool

	ctx      context.Context
	gainedAt time.Time
	heap     timerHeap
	scheds   map[string]*schedState
	runs     map[string]*runState
	hs       map[string]*handlerState // by instance
	peers    map[string]string        // peer identity → instance
	lastHB   time.Time
	lastSync time.Time
}

func newLeader(d *Dispatcher, term uint64) *leader {
	return &leader{
		d: d, term: term,
		inbox: make(chan transport.Inbound, inboxSize), wake: make(chan struct{}, 1),
		scheds: map[string]*schedState{}, runs: map[string]*runState{},
		hs: map[string]*handlerState{}, peers: map[string]string{},
	}
}

func (l *leader) kick() {
	l.forceSync.Store(true)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *leader) now() time.Time { return l.d.cfg.Clock.Now() }

// run is the leader loop: rebuild, then react to timers and messages until
// ctx ends or leadership is lost.
func (l *leader) run(ctx context.Context) error {
	l.ctx = ctx
	l.gainedAt = l.now()
	l.d.log.Info("leading: rebuilding dispatch state", "term", l.term)
	defer l.d.handlers.Store(nil)
	l.rebuildHandlers()
	if err := l.step(); err != nil {
		return err
	}
	for {
		timer := l.d.cfg.Clock.NewTimer(l.nextWake().Sub(l.now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C():
		case <-l.wake:
		case in := <-l.inbox:
			if err := l.handleInbound(in); err != nil {
				timer.Stop()
				return err
			}
		}
		timer.Stop()
		if err := l.step(); err != nil {
			return err
		}
	}
}

// step does everything that is due now.
func (l *leader) step() error {
	if l.ctx.Err() != nil {
		return l.ctx.Err()
	}
	now := l.now()
	if l.forceSync.Swap(false) || now.Sub(l.lastSync) >= l.d.cfg.ResyncInterval || l.lastSync.IsZero() {
		l.lastSync = now
		l.resyncSchedules(now)
		l.adoptActiveRuns()
	}
	steps := []func(time.Time) error{l.fireDue, l.checkHandlers, l.checkRuns, l.dispatchPending}
	for _, f := range steps {
		if err := f(now); err != nil {
			return err
		}
	}
	if now.Sub(l.lastHB) >= l.d.cfg.HeartbeatInterval {
		l.lastHB = now
		l.heartbeat()
	}
	l.publish()
	return nil
}

// nextWake is the earliest instant something becomes due.
func (l *leader) nextWake() time.Time {
	now := l.now()
	w := l.lastSync.Add(l.d.cfg.ResyncInterval)
	w = earliest(w, l.lastHB.Add(l.d.cfg.HeartbeatInterval))
	if len(l.heap) > 0 {
		w = earliest(w, l.heap[0].due)
	}
	for _, r := range l.runs {
		w = earliest(w, r.wakeAt(now, l.d.cfg.AcceptTimeout))
	}
	if w.Before(now) {
		return now
	}
	return w
}

func earliest(a, b time.Time) time.Time {
	if b.IsZero() || (!a.IsZero() && a.Before(b)) {
		return a
	}
	return b
}

// pending is one event to commit and what to do with its result.
type pending struct {
	ev   fsm.Event
	then func(fsm.Result)
}

// commit proposes events in batches of MaxFiresPerBatch and runs each
// callback with its result. A lost leadership aborts; another error (e.g.
// timeout with unknown outcome) is returned so callers can retry later.
func (l *leader) commit(ps []pending) error {
	for len(ps) > 0 {
		n := min(len(ps), l.d.cfg.MaxFiresPerBatch)
		batch := ps[:n]
		ps = ps[n:]
		evs := make([]fsm.Event, n)
		for i, p := range batch {
			evs[i] = p.ev
		}
		ctx, cancel := context.WithTimeout(l.ctx, l.d.cfg.ProposeTimeout)
		res, err := l.d.cfg.Cluster.Propose(ctx, evs...)
		cancel()
		if err != nil {
			if leadershipError(err) || l.ctx.Err() != nil {
				return fmt.Errorf("%w: %w", errLeadershipLost, err)
			}
			return err
		}
		for i, p := range batch {
			if p.then != nil && i < len(res) {
				p.then(res[i])
			}
		}
	}
	return nil
}

func leadershipError(err error) bool {
	return errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrNoLeader) || errors.Is(err, cluster.ErrStopped)
}

// fatal reports whether err must stop the leader loop.
func fatal(err error) bool {
	return err != nil && (errors.Is(err, errLeadershipLost) || errors.Is(err, context.Canceled))
}

// send delivers m to peer with the leader's term, unless leadership is gone.
func (l *leader) send(peer string, m wire.Message) error {
	if l.ctx.Err() != nil || !l.d.cfg.Cluster.IsLeader() {
		return errLeadershipLost
	}
	m.Term, m.NodeID = l.term, l.d.cfg.NodeID
	return l.d.cfg.Listener.Send(l.ctx, peer, m)
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
