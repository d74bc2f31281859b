package handlerclient

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/wire"
)

// phase is where a session is in its life.
type phase int

const (
	phaseServing    phase = iota
	phaseDraining         // Run's ctx ended: wait ≤ DrainTimeout for jobs
	phaseCancelling       // job contexts cancelled: wait ≤ FlushTimeout
	phaseFlushing         // wait ≤ FlushTimeout for result acknowledgements
	phaseClosed
)

// loopQueue buffers the channels into the session loop, so that readers
// and jobs hand over their events without waiting for the loop.
const loopQueue = 256

// session is one Run call. A single goroutine (run's loop) owns all of its
// state; link, reader and job goroutines talk to it over channels.
type session struct {
	cfg         Config
	handlers    map[string]HandlerFunc
	methods     []string
	log         *slog.Logger
	clock       clock.Clock
	metrics     *metrics
	sendTimeout time.Duration

	connUp    chan *conn
	inbox     chan inbound  // buffered: readers rarely wait for the loop
	jobEvents chan jobEvent // buffered: jobs rarely wait for the loop
	exited    chan struct{} // closed when run returns; unblocks abandoned jobs
	linksWG   sync.WaitGroup
	jobsWG    sync.WaitGroup

	// Owned by the loop.
	links      map[string]*link
	dirty      []*conn // with messages queued this turn
	candidates map[string]candidate
	leader     *conn
	maxTerm    uint64
	welcomes   uint64
	// clusterHB is the heartbeat interval of the latest welcome from any
	// node; it outlives the leader link, so a leader search after a
	// failover keeps the cluster's pace (e.g. a fast profile).
	clusterHB time.Duration
	// searchSince is when the current leader search began (zero: not
	// searching); probe paces its hellos (search.go).
	searchSince time.Time
	probe       clock.Timer
	ledger      *ledger
	active      int // runs starting or running
	abandoned   int
	baseCtx     context.Context // Run's ctx without its cancellation
	jobsCtx     context.Context
	cancelJobs  context.CancelCauseFunc
	phase       phase
	phaseTimer  clock.Timer
}

// candidate is a leader endpoint outside Servers named by a redirect; it
// is dialled if no known connection turns out to lead within one
// heartbeat interval.
type candidate struct {
	leaderID string
	term     uint64
	since    time.Time
}

func newSession(cfg Config, handlers map[string]HandlerFunc, m *metrics) *session {
	return &session{
		cfg:         cfg,
		handlers:    handlers,
		methods:     sortedMethods(handlers),
		log:         cfg.Logger.With(slog.String("handler", cfg.Name), slog.String("instance", cfg.Instance)),
		clock:       cfg.Clock,
		metrics:     m,
		sendTimeout: cfg.HeartbeatInterval * time.Duration(cfg.Liveness),
		connUp:      make(chan *conn),
		inbox:       make(chan inbound, loopQueue),
		jobEvents:   make(chan jobEvent, loopQueue),
		exited:      make(chan struct{}),
		links:       make(map[string]*link),
		candidates:  make(map[string]candidate),
		ledger:      newLedger(dedupeWindow),
	}
}

// run is the session loop.
func (s *session) run(ctx context.Context) error {
	s.baseCtx = context.WithoutCancel(ctx)
	s.jobsCtx, s.cancelJobs = context.WithCancelCause(s.baseCtx)
	defer s.cancelJobs(ErrShutdown)
	for _, ep := range s.cfg.Servers {
		s.addLink(ep, false)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "handler starting", slog.Any("servers", s.cfg.Servers),
		slog.Any("methods", s.methods), slog.Int("capacity", s.cfg.Capacity))
	tick := s.clock.NewTimer(s.interval())
	defer tick.Stop()
	s.probe = s.clock.NewTimer(time.Hour)
	s.probe.Stop()
	defer s.probe.Stop()
	done := ctx.Done()
	for s.phase != phaseClosed {
		var phaseC, probeC <-chan time.Time
		if s.phaseTimer != nil {
			phaseC = s.phaseTimer.C()
		}
		if !s.searchSince.IsZero() {
			probeC = s.probe.C()
		}
		select {
		case <-done:
			done = nil
			s.enter(phaseDraining)
		case <-tick.C():
			s.onTick()
			tick.Reset(s.interval())
		case c := <-s.connUp:
			s.onConnUp(c)
		case in := <-s.inbox:
			s.onInbound(in)
		case ev := <-s.jobEvents:
			s.onJobEvent(ev)
		case <-phaseC:
			s.onPhaseTimeout()
		case <-probeC:
			s.onProbe()
		}
		s.handleReady()
		s.advance()
		s.updateSearch()
		s.flushOut()
	}
	return s.close()
}

// handleReady handles the messages and job events that are already
// waiting, up to loopQueue of them, so that their answers leave in one
// batch per connection (flushOut). It never waits.
func (s *session) handleReady() {
	for range loopQueue {
		select {
		case in := <-s.inbox:
			s.onInbound(in)
		case ev := <-s.jobEvents:
			s.onJobEvent(ev)
		default:
			return
		}
	}
}

// enter moves to phase p and arms its timeout.
func (s *session) enter(p phase) {
	if s.phaseTimer != nil {
		s.phaseTimer.Stop()
		s.phaseTimer = nil
	}
	s.phase = p
	var d time.Duration
	switch p {
	case phaseDraining:
		d = s.cfg.DrainTimeout
		s.log.Info("shutting down: draining jobs", slog.Int("running", s.active), slog.Duration("drain_timeout", d))
	case phaseCancelling, phaseFlushing:
		d = s.cfg.FlushTimeout
	default:
		return
	}
	s.phaseTimer = s.clock.NewTimer(d)
}

// advance moves through the shutdown phases as their conditions are met.
func (s *session) advance() {
	switch s.phase {
	case phaseDraining, phaseCancelling:
		if s.active == 0 {
			s.enter(phaseFlushing)
			s.advance()
		}
	case phaseFlushing:
		if len(s.ledger.pending) == 0 {
			s.enter(phaseClosed)
		}
	}
}

func (s *session) onPhaseTimeout() {
	switch s.phase {
	case phaseDraining:
		s.log.Warn("drain timeout: cancelling running jobs", slog.Int("running", s.active))
		s.cancelJobs(ErrShutdown)
		s.enter(phaseCancelling)
	case phaseCancelling:
		s.abandoned = s.active
		s.log.Error("jobs ignore cancellation; abandoning them", slog.Int("running", s.active))
		s.enter(phaseFlushing)
	case phaseFlushing:
		s.log.Warn("flush timeout: results not acknowledged", slog.Int("pending", len(s.ledger.pending)))
		s.enter(phaseClosed)
	}
}

// close says goodbye on every connection, stops every link and waits for
// every goroutine except abandoned jobs.
func (s *session) close() error {
	for _, l := range s.links {
		if c := l.cur; c != nil {
			s.enqueue(c, wire.Message{Type: wire.TypeGoodbye, Reason: "shutdown"})
		}
	}
	s.flushOut()
	for _, l := range s.links {
		l.cancel()
	}
	s.cancelJobs(ErrShutdown)
	s.linksWG.Wait()
	if s.abandoned > 0 {
		close(s.exited)
		return fmt.Errorf("%w: %d", ErrAbandoned, s.abandoned)
	}
	s.jobsWG.Wait()
	close(s.exited)
	s.log.Info("handler stopped")
	return nil
}

// addLink starts the goroutine of a new endpoint.
func (s *session) addLink(ep string, extra bool) {
	lctx, cancel := context.WithCancel(s.baseCtx)
	l := &link{endpoint: ep, extra: extra, ctx: lctx, cancel: cancel, wake: make(chan struct{}, 1)}
	s.links[ep] = l
	s.linksWG.Add(1)
	go s.runLink(l)
}

// interval is the heartbeat interval: the leader's, else the one the
// cluster last announced, else the configured one.
func (s *session) interval() time.Duration {
	if s.leader != nil && s.leader.hb > 0 {
		return s.leader.hb
	}
	return cmpOr(s.clusterHB, s.cfg.HeartbeatInterval)
}

// silence is how long c may stay silent before it is declared dead: the
// liveness its node announced in welcome, else the configured one. (Not
// the cluster's: a node that has just won an election answers nothing
// until its dispatcher is up, and must not lose its connections to a fast
// profile's short liveness meanwhile.)
func (s *session) silence(c *conn) time.Duration {
	hb, liveness := cmpOr(c.hb, s.cfg.HeartbeatInterval), cmpOr(c.liveness, s.cfg.Liveness)
	return hb * time.Duration(liveness)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// onTick runs every heartbeat interval: liveness, heartbeats to the
// leader, hello to every other connection, redirect candidates, result
// re-sends.
func (s *session) onTick() {
	now := s.clock.Now()
	for _, l := range s.links {
		c := l.cur
		switch {
		case c == nil:
		case now.Sub(c.lastRecv) >= s.silence(c):
			s.kill(c, "heartbeat timeout")
		case c == s.leader:
			s.enqueue(c, wire.Message{Type: wire.TypeHeartbeat, InFlight: s.active})
		case now.Sub(c.lastHello) >= s.interval()/2:
			s.hello(c, now) // unless a probe just did
		}
	}
	s.checkCandidates(now)
	s.resendResults(now, false)
}

func (s *session) hello(c *conn, now time.Time) {
	c.lastHello = now
	s.enqueue(c, wire.Message{Type: wire.TypeHello, Name: s.cfg.Name, Instance: s.cfg.Instance,
		Methods: s.methods, Capacity: s.cfg.Capacity, Token: s.cfg.Token, Running: s.ledger.unfinished(maxHelloRunning)})
}

func (s *session) onConnUp(c *conn) {
	l := c.link
	if s.links[l.endpoint] != l || l.ctx.Err() != nil {
		return // the link was dropped meanwhile; its goroutine is ending
	}
	now := s.clock.Now()
	c.lastRecv = now
	l.cur = c
	l.dials++
	if l.dials > 1 {
		s.metrics.reconnects.Inc()
	}
	s.log.Debug("connected", slog.String(logKeyEndpoint, l.endpoint), slog.String(logKeyIdentity, c.identity))
	s.hello(c, now)
}

// kill closes c; its link dials again after the back-off, unless the
// link is an extra one, which is dropped.
func (s *session) kill(c *conn, reason string) {
	if c.dead {
		return
	}
	c.dead = true
	c.kill()
	l := c.link
	if l.cur == c {
		l.cur = nil
	}
	s.log.Info("connection closed", slog.String(logKeyEndpoint, l.endpoint),
		slog.String(logKeyIdentity, c.identity), slog.String(logKeyReason, reason))
	if l.extra {
		l.cancel()
		delete(s.links, l.endpoint)
	}
	if s.leader == c {
		s.electLeader()
	}
}

// electLeader makes the live welcomed connection with the highest term
// the leader link, and sends it the pending results when it changed. Among
// connections welcomed in the same term (one node reached through two
// endpoints) the current leader link stays, then the latest welcome wins.
func (s *session) electLeader() {
	var best *conn
	for _, l := range s.links {
		c := l.cur
		if c == nil || !c.welcomed {
			continue
		}
		if best == nil || c.term > best.term || (c.term == best.term && best != s.leader &&
			(c == s.leader || c.welcomeSeq > best.welcomeSeq)) {
			best = c
		}
	}
	if best == s.leader {
		return
	}
	s.leader = best
	if best == nil {
		s.log.Warn("no leader connection")
		return
	}
	s.log.Info("following leader", slog.String(logKeyEndpoint, best.link.endpoint),
		slog.String(logKeyNode, best.nodeID), slog.Uint64(logKeyTerm, best.term))
	s.resendResults(s.clock.Now(), true)
}

// checkCandidates dials redirect targets outside Servers when no known
// connection has become the leader's within one interval.
func (s *session) checkCandidates(now time.Time) {
	for ep, cd := range s.candidates {
		switch {
		case s.links[ep] != nil || s.phase != phaseServing || s.knowsNode(cd.leaderID) ||
			(s.leader != nil && s.leader.term >= cd.term):
			delete(s.candidates, ep)
		case now.Sub(cd.since) >= s.interval():
			delete(s.candidates, ep)
			s.log.Info("dialling leader endpoint named by a redirect", slog.String(logKeyEndpoint, ep),
				slog.String(logKeyNode, cd.leaderID), slog.Uint64(logKeyTerm, cd.term))
			s.addLink(ep, true)
		}
	}
}

// knowsNode reports whether a live connection leads to node id.
func (s *session) knowsNode(id string) bool {
	if id == "" {
		return false
	}
	for _, l := range s.links {
		if l.cur != nil && l.cur.nodeID == id {
			return true
		}
	}
	return false
}

// resendResults queues pending results for the leader: all of them, or
// those not sent for three heartbeat intervals.
func (s *session) resendResults(now time.Time, all bool) {
	if s.leader == nil {
		return
	}
	every := 3 * s.interval()
	for _, r := range s.ledger.pending {
		if all || now.Sub(r.sentAt) >= every {
			if !s.sendResult(r, now) {
				return // queue full: the rest waits for the next round
			}
		}
	}
}

// sendResult queues r's result for the leader with r's current attempt
// and term; false if it could not be queued.
func (s *session) sendResult(r *run, now time.Time) bool {
	if s.leader == nil {
		return false
	}
	m := r.result
	m.Attempt, m.Term = r.attempt, r.term
	if !s.enqueue(s.leader, m) {
		return false
	}
	r.sentAt = now
	return true
}

func (s *session) noteTerm(t uint64) { s.maxTerm = max(s.maxTerm, t) }
