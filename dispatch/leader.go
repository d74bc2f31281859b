package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/trigger"
	"github.com/schedulezero/schedulezero/wire"
)

// errLeadershipLost stops the leader loop: Propose said this node no
// longer leads, so nothing more may be decided or sent.
var errLeadershipLost = errors.New("dispatch: leadership lost")

const inboxSize = 4096

// leader is the state of one leader term. Only its run goroutine touches
// the fields below done (proposal goroutines only read their batch).
type leader struct {
	d     *Dispatcher
	fsm   *fsm.FSM
	term  uint64
	inbox chan transport.Inbound
	// quit is closed when the loop has ended, releasing a recvLoop blocked
	// on a full inbox.
	quit chan struct{}
	done chan *batch // answered proposals, buffered for all in flight

	ctx      context.Context
	pctx     context.Context // proposals: cancelled when the loop ends
	pcancel  context.CancelFunc
	wg       sync.WaitGroup // proposal goroutines
	stopErr  error
	gainedAt time.Time

	// FSM change feed.
	cursor      uint64
	changes     []fsm.Change
	feedPending bool
	lastResync  time.Time

	// Schedules: a timer per schedule with a next occurrence.
	timers          timerHeap
	scheds          map[string]*schedState
	trigs           map[trigger.Spec]trigger.Trigger
	slots, slotsTmp []time.Time
	loading         []*fsm.Schedule // still to arm after the gain (feed.go)

	// Runs: every active run of the FSM.
	runs      map[string]*runState
	bySched   map[string]*runState // list head, linked by nextOfSched
	queues    map[string]*runHeap  // ready queue per handler name
	dirty     map[string]struct{}  // handler names whose queue may drain
	deadlines runHeap
	held      []*runState // adopted runs that may still be held
	skipped   []*runState
	resyncGen uint32

	// Handler instances.
	hs             map[string]*handlerState // by instance
	byName         map[string][]*handlerState
	peers          map[string]string // peer identity → instance
	unheard        int               // registered at gain, not yet heard from
	hsDirty        bool
	lastHB         time.Time
	handlerCheckAt time.Time

	// Commit pipeline (commit.go).
	pend     []pending
	queue    []*batch // in flight, in submission order
	free     []*batch
	inflight int
}

func newLeader(d *Dispatcher, term uint64) *leader {
	return &leader{
		d: d, fsm: d.cfg.Cluster.FSM(), term: term,
		inbox:  make(chan transport.Inbound, inboxSize),
		quit:   make(chan struct{}),
		done:   make(chan *batch, d.cfg.MaxInFlightProposals),
		scheds: map[string]*schedState{}, trigs: map[trigger.Spec]trigger.Trigger{},
		runs: map[string]*runState{}, bySched: map[string]*runState{},
		queues: map[string]*runHeap{}, dirty: map[string]struct{}{},
		hs: map[string]*handlerState{}, byName: map[string][]*handlerState{}, peers: map[string]string{},
	}
}

func (l *leader) now() time.Time { return l.d.cfg.Clock.Now() }

// begin rebuilds all leader state from the FSM (after the leadership
// barrier, so every earlier decision is applied).
func (l *leader) begin(ctx context.Context) {
	l.ctx = ctx
	l.pctx, l.pcancel = context.WithCancel(ctx)
	l.gainedAt = l.now()
	l.d.log.Info("leading: rebuilding dispatch state", "term", l.term)
	l.rebuildHandlers()
	l.gain(l.gainedAt)
}

// end stops the proposals still in flight and waits for them: nothing is
// decided or sent by this term once it returns. Their callbacks never run.
func (l *leader) end() {
	select {
	case <-l.quit: // ended before (test leaders may be closed twice)
	default:
		close(l.quit)
	}
	l.pcancel()
	l.wg.Wait()
	l.d.handlers.Store(nil)
	l.d.m.inflight.Set(0)
	l.d.m.trackedScheds.Set(0)
	l.d.m.trackedRuns.Set(0)
}

// run is the leader loop: rebuild, then react to deadlines, FSM changes,
// commit answers and handler messages until ctx ends or leadership is
// lost. It sleeps until the earliest real deadline: idle, it wakes once per
// heartbeat interval.
func (l *leader) run(ctx context.Context) error {
	l.begin(ctx)
	defer l.end()
	timer := l.d.cfg.Clock.NewTimer(l.d.cfg.HeartbeatInterval)
	defer timer.Stop()
	notify := l.fsm.ChangeNotify()
	for {
		l.step()
		if l.stopErr != nil {
			return l.stopErr
		}
		var inbox <-chan transport.Inbound
		if l.room() {
			inbox = l.inbox // backpressure: handler messages wait in the inbox
		}
		now := l.now()
		timer.Reset(l.nextWake(now).Sub(now))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C():
		case <-notify:
			l.feedPending = true
		case b := <-l.done:
			l.completed(b)
		case in := <-inbox:
			l.handleInbound(in)
		}
		l.d.wakes.Add(1)
		l.d.m.wakes.Inc()
	}
}

// step does everything that is due now, then proposes what it queued.
func (l *leader) step() {
	if err := l.ctx.Err(); err != nil {
		l.fail(err)
		return
	}
	now := l.now()
	if !l.feedPending {
		select {
		case <-l.fsm.ChangeNotify():
			l.feedPending = true
		default:
		}
	}
	if l.feedPending {
		l.drainFeed(now)
	}
	if iv := l.d.cfg.ResyncInterval; iv > 0 && now.Sub(l.lastResync) >= iv {
		l.fullResync(now, "interval")
	}
	if l.loading != nil {
		l.loadSchedules()
	}
	l.expireRuns(now)
	hb := !now.Before(l.lastHB.Add(l.d.cfg.HeartbeatInterval))
	if hb || (!l.handlerCheckAt.IsZero() && !now.Before(l.handlerCheckAt)) {
		l.checkHandlers(now)
	}
	l.fireDue(now)
	l.flushReady(now)
	if hb {
		l.lastHB = now
		l.heartbeat()
	}
	if hb || l.hsDirty {
		l.publish()
	}
	l.flush()
	l.d.m.inflight.Set(float64(l.inflight))
	l.d.m.trackedScheds.Set(float64(len(l.scheds)))
	l.d.m.trackedRuns.Set(float64(len(l.runs)))
}

// nextWake is the earliest instant something becomes due: the next
// heartbeat, handler check, run deadline, schedule timer or safety-net
// resync. Due timers waiting for pipeline room are left to l.done.
func (l *leader) nextWake(now time.Time) time.Time {
	if l.loading != nil {
		return now // keep loading timers
	}
	w := l.lastHB.Add(l.d.cfg.HeartbeatInterval)
	w = earliest(w, l.handlerCheckAt)
	if len(l.deadlines) > 0 {
		w = earliest(w, time.Unix(0, l.deadlines[0].hkey))
	}
	if len(l.timers) > 0 && (l.room() || l.timers[0].due > nanos(now)) {
		w = earliest(w, time.Unix(0, l.timers[0].due))
	}
	if iv := l.d.cfg.ResyncInterval; iv > 0 {
		w = earliest(w, l.lastResync.Add(iv))
	}
	if w.Before(now) {
		return now
	}
	return w
}

// earliest is the earlier of a and b, ignoring zero values.
func earliest(a, b time.Time) time.Time {
	if b.IsZero() || (!a.IsZero() && a.Before(b)) {
		return a
	}
	return b
}

// send delivers m to peer with the leader's term, unless leadership is
// gone (which stops the loop).
func (l *leader) send(peer string, m wire.Message) error {
	if l.ctx.Err() != nil || !l.d.cfg.Cluster.IsLeader() {
		l.fail(errLeadershipLost)
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
