package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

// Sentinel errors.
var (
	// ErrInvalidConfig: a required Config field is missing.
	ErrInvalidConfig = errors.New("dispatch: invalid config")
	// ErrNotLeader: the operation needs the leader and this node is not
	// (or its leader loop is not running yet).
	ErrNotLeader = errors.New("dispatch: not the leader")
	// ErrNotFound: no such schedule (the fsm sentinel).
	ErrNotFound = fsm.ErrNotFound
)

// Cluster is what the dispatcher needs from the replicated core;
// *cluster.Node implements it.
type Cluster interface {
	// Propose commits events in one log entry (leader only) and stamps At.
	Propose(ctx context.Context, events ...fsm.Event) ([]fsm.Result, error)
	// FSM is the local replicated state.
	FSM() *fsm.FSM
	// LeadershipChanges reports true after the post-election barrier and
	// false on loss (coalescing; true,true = lost and regained).
	LeadershipChanges() <-chan bool
	// IsLeader reports whether Raft currently considers this node leader.
	IsLeader() bool
	// Self reports the node's term and the known leader.
	Self() cluster.Self
}

// Config configures a Dispatcher. Cluster and Listener are required.
type Config struct {
	Cluster  Cluster
	Listener transport.Listener
	// NodeID names this node in welcome and heartbeat messages.
	NodeID     string
	Clock      clock.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// HeartbeatInterval is the heartbeat period both ways (default 1 s).
	HeartbeatInterval time.Duration
	// Liveness is how many silent heartbeat intervals make an instance lost (3).
	Liveness int
	// AcceptTimeout bounds dispatch → accepted before a re-send (2×heartbeat).
	AcceptTimeout time.Duration
	// HandlerExpiry is the silence after which handler.expired is committed (10 s).
	HandlerExpiry time.Duration
	// MaxFiresPerBatch bounds the events of one Propose (500). A batch is
	// only cut between two schedules' decisions, so one schedule's
	// decisions (at most MaxFiresPerBatch per pass, plus overlap cancels)
	// always share a log entry.
	MaxFiresPerBatch int
	// MaxInFlightProposals bounds the batches proposed and not yet answered
	// (8). When they are all in flight the leader stops taking new fires
	// and handler messages until one returns (backpressure).
	MaxInFlightProposals int
	// CatchupCap bounds the decisions committed per schedule per pass (1000).
	CatchupCap int
	// ResyncInterval, when positive, makes the leader rescan the whole FSM
	// that often as a safety net. The default 0 disables it: the leader
	// follows the FSM change feed (fsm.ChangesSince) and rescans only when
	// it gains leadership or falls behind the feed.
	ResyncInterval time.Duration
	// ProposeTimeout bounds one Propose (5 s).
	ProposeTimeout time.Duration
	// Lookahead is how long before an occurrence's due time its fire
	// decision may be committed (precommit), so that the Raft commit is
	// paid before the due time instead of after it. The run is still
	// dispatched at its due time, never before. 0 (the default) decides
	// every occurrence at its due time, as without this option.
	//
	// Semantics inside the window (DESIGN.md "Fire lookahead"): an
	// occurrence of a schedule that has active runs under an overlap
	// policy other than allow is not precommitted (its overlap decision is
	// taken at the due time); a pause committed after the decision and by
	// the due time cancels the run ("schedule paused before its due
	// time"); an update in that interval cancels it when the nominal time
	// is no longer an occurrence of the updated schedule ("schedule
	// changed before its due time") and otherwise dispatches it with the
	// updated method and params; a deleted schedule's run is dropped with
	// it. A run's fired_at may precede its nominal_at by up to Lookahead.
	// Negative values mean 0.
	Lookahead time.Duration
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.Liveness <= 0 {
		c.Liveness = 3
	}
	if c.AcceptTimeout <= 0 {
		c.AcceptTimeout = 2 * c.HeartbeatInterval
	}
	if c.HandlerExpiry <= 0 {
		c.HandlerExpiry = 10 * c.HeartbeatInterval
	}
	if c.MaxFiresPerBatch <= 0 {
		c.MaxFiresPerBatch = 2000
	}
	if c.MaxInFlightProposals <= 0 {
		c.MaxInFlightProposals = 4
	}
	if c.CatchupCap <= 0 {
		c.CatchupCap = 1000
	}
	if c.ResyncInterval < 0 {
		c.ResyncInterval = 0
	}
	if c.ProposeTimeout <= 0 {
		c.ProposeTimeout = 5 * time.Second
	}
	if c.Lookahead < 0 {
		c.Lookahead = 0
	}
	return c
}

// HandlerStatus is one handler instance as the leader sees it.
type HandlerStatus struct {
	Name     string    `json:"name"`
	Instance string    `json:"instance"`
	State    string    `json:"state"` // live | lost | unknown (registered, not connected to this leader)
	Capacity int       `json:"capacity"`
	InFlight int       `json:"in_flight"`
	LastSeen time.Time `json:"last_seen"`
}

// Dispatcher is the leader's scheduler and the node's handler endpoint.
type Dispatcher struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	lead     atomic.Pointer[leader] // the running leader loop, nil on a follower
	handlers atomic.Pointer[[]HandlerStatus]
	// wakes counts leader-loop wake-ups (idle-CPU tests and the
	// sz_dispatch_loop_wakeups_total counter).
	wakes atomic.Uint64
}

// New validates cfg and builds a Dispatcher without starting it.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Cluster == nil || cfg.Listener == nil {
		return nil, fmt.Errorf("%w: Cluster and Listener are required", ErrInvalidConfig)
	}
	cfg = cfg.withDefaults()
	return &Dispatcher{cfg: cfg, log: cfg.Logger.With("component", "dispatch"), m: newMetrics(cfg.Registerer)}, nil
}

// Start launches the receive and leadership goroutines; it is idempotent.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started {
		return nil
	}
	d.started = true
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.wg.Add(2)
	go d.recvLoop(bg)
	go d.watchLeadership(bg)
	return nil
}

// Stop stops the leader loop (sending nothing more) and the receive loop.
// It does not close the Listener. Idempotent.
func (d *Dispatcher) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.started || d.stopped {
		return
	}
	d.stopped = true
	d.cancel()
	d.wg.Wait()
}

// Handlers returns the leader's view of handler instances (empty on a follower).
func (d *Dispatcher) Handlers() []HandlerStatus {
	if p := d.handlers.Load(); p != nil && d.lead.Load() != nil {
		return append([]HandlerStatus(nil), (*p)...)
	}
	return []HandlerStatus{}
}

// IsLeading reports whether the leader loop runs on this node.
func (d *Dispatcher) IsLeading() bool { return d.lead.Load() != nil }

// watchLeadership starts and stops the leader loop on leadership changes.
func (d *Dispatcher) watchLeadership(ctx context.Context) {
	defer d.wg.Done()
	var cur *leaderRun
	stop := func() {
		if cur != nil {
			cur.stop()
			cur = nil
		}
	}
	defer stop()
	ch := d.cfg.Cluster.LeadershipChanges()
	for {
		select {
		case <-ctx.Done():
			return
		case v := <-ch:
			stop() // true after true: lost and regained, rebuild
			if v {
				cur = d.startLeader(ctx)
			}
		}
	}
}

// leaderRun is one running leader loop.
type leaderRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *leaderRun) stop() {
	r.cancel()
	<-r.done
}

func (d *Dispatcher) startLeader(parent context.Context) *leaderRun {
	ctx, cancel := context.WithCancel(parent)
	l := newLeader(d, d.cfg.Cluster.Self().Term)
	run := &leaderRun{cancel: cancel, done: make(chan struct{})}
	d.lead.Store(l)
	go func() {
		defer close(run.done)
		defer d.lead.CompareAndSwap(l, nil)
		if err := l.run(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("leader loop stopped", "err", err)
		}
	}()
	return run
}

// recvLoop owns Listener.Recv: it hands messages to the leader loop or,
// on a follower, answers with a redirect.
func (d *Dispatcher) recvLoop(ctx context.Context) {
	defer d.wg.Done()
	for {
		in, err := d.cfg.Listener.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, transport.ErrClosed) {
				return
			}
			d.log.Debug("recv", "err", err)
			continue
		}
		if l := d.lead.Load(); l != nil {
			// Block rather than drop: a dropped accepted/result makes the
			// handler re-send it seconds later while its credit stays in
			// use. Waiting here pushes back on the handlers' sockets.
			select {
			case l.inbox <- in:
			case <-l.quit: // this term ended; the handler re-sends to the next leader
			case <-ctx.Done():
				return
			}
			continue
		}
		d.answerFollower(ctx, in)
	}
}

// answerFollower redirects a handler that talks to a non-leader.
func (d *Dispatcher) answerFollower(ctx context.Context, in transport.Inbound) {
	switch in.Msg.Type {
	case wire.TypeHello, wire.TypeHeartbeat, wire.TypeAccepted, wire.TypeResult, wire.TypeReject:
	default:
		return
	}
	self := d.cfg.Cluster.Self()
	if self.LeaderID == self.ID && self.LeaderID != "" {
		return // leader whose loop is not up yet (barrier pending): the handler retries
	}
	msg := wire.Message{Type: wire.TypeRedirect, LeaderID: self.LeaderID, Term: self.Term, NodeID: d.cfg.NodeID}
	if info, ok := d.cfg.Cluster.FSM().Node(self.LeaderID); ok {
		msg.LeaderEndpoint = info.ZMQAddr
	}
	if err := d.cfg.Listener.Send(ctx, in.Peer, msg); err != nil {
		d.log.Debug("redirect", "peer", in.Peer, "err", err)
	}
}

// Trigger commits a manual run of scheduleID now (leader only) and hands it
// to the leader loop. A repeated requestID returns the existing run.
func (d *Dispatcher) Trigger(ctx context.Context, scheduleID, requestID string) (*fsm.Run, error) {
	if d.lead.Load() == nil {
		return nil, ErrNotLeader
	}
	if requestID == "" {
		requestID = newRequestID()
	}
	id := fsm.ManualRunID(scheduleID, requestID)
	if r, ok := d.cfg.Cluster.FSM().Run(id); ok {
		return r, nil
	}
	now := d.cfg.Clock.Now().UTC()
	ev := fsm.Event{Type: fsm.RunFired, Run: &fsm.Run{ID: id, ScheduleID: scheduleID, NominalAt: now, DueAt: now, Trigger: fsm.TriggerManual}}
	res, err := d.cfg.Cluster.Propose(ctx, ev)
	if err != nil {
		return nil, err
	}
	switch {
	case res[0].Err == nil:
		// The leader loop learns about the run from the FSM change feed.
		d.m.fires.WithLabelValues("manual").Inc()
		return res[0].Run, nil
	case errors.Is(res[0].Err, fsm.ErrExists):
		if r, ok := d.cfg.Cluster.FSM().Run(id); ok {
			return r, nil
		}
		return nil, res[0].Err
	case errors.Is(res[0].Err, fsm.ErrNotFound):
		return nil, fmt.Errorf("%w: schedule %q", ErrNotFound, scheduleID)
	default:
		return nil, res[0].Err
	}
}
