package handlerclient

import (
	"log/slog"
	"time"

	"github.com/schedulezero/schedulezero/wire"
)

// Reasons of the reject messages this SDK sends.
const (
	ReasonStaleTerm       = "stale_term"        // dispatch term below the highest seen
	ReasonStaleAttempt    = "stale_attempt"     // a newer attempt of the run is known here
	ReasonUnknownMethod   = "unknown_method"    // no HandlerFunc for the method
	ReasonOverCapacity    = "over_capacity"     // Capacity jobs are running
	ReasonShuttingDown    = "shutting_down"     // Run's ctx has ended
	ReasonBeforeRunFailed = "before_run_failed" // Config.BeforeRunFunc returned an error
)

// onInbound handles one message from a node.
func (s *session) onInbound(in inbound) {
	c, m := in.conn, in.msg
	if c.dead {
		return
	}
	if in.lost {
		s.kill(c, "closed by the transport")
		return
	}
	now := s.clock.Now()
	c.lastRecv = now
	switch m.Type {
	case wire.TypeWelcome:
		s.onWelcome(c, m)
	case wire.TypeRedirect:
		s.onRedirect(c, m, now)
	case wire.TypeHeartbeat:
		s.noteTerm(m.Term)
		c.nodeID = cmpOr(m.NodeID, c.nodeID)
	case wire.TypeDispatch:
		s.onDispatch(c, m, now)
	case wire.TypeResultAck:
		s.onResultAck(m)
	case wire.TypeCancel:
		s.onCancel(m)
	case wire.TypeGoodbye:
		s.kill(c, "goodbye from the node: "+m.Reason)
	default:
		s.log.Debug("ignoring message", slog.String(logKeyType, string(m.Type)), slog.String(logKeyIdentity, c.identity))
	}
}

// onWelcome: c's node is a leader that registered us.
func (s *session) onWelcome(c *conn, m wire.Message) {
	s.noteTerm(m.Term)
	s.welcomes++
	c.welcomed, c.term, c.welcomeSeq = true, m.Term, s.welcomes
	c.nodeID = cmpOr(m.NodeID, c.nodeID)
	if m.HeartbeatMS > 0 {
		c.hb = time.Duration(m.HeartbeatMS) * time.Millisecond
		s.clusterHB = c.hb
	}
	if m.Liveness > 0 {
		c.liveness = m.Liveness
	}
	prev := s.leader
	s.electLeader()
	if s.leader == c && prev == c {
		s.resendResults(s.clock.Now(), true) // re-welcome: the node may have lost them
	}
	if !c.link.extra && c.nodeID != "" {
		// A leader learned from a redirect is reachable through Servers
		// again: drop the extra connection to it.
		for _, l := range s.links {
			if o := l.cur; l.extra && o != nil && o.nodeID == c.nodeID {
				s.kill(o, "leader reachable through a configured endpoint")
			}
		}
	}
}

// onRedirect: c's node is not the leader; it may name the one that is.
func (s *session) onRedirect(c *conn, m wire.Message, now time.Time) {
	s.noteTerm(m.Term)
	c.welcomed = false
	c.nodeID = cmpOr(m.NodeID, c.nodeID)
	switch {
	case c.link.extra:
		s.kill(c, "no longer the leader")
	case s.leader == c:
		s.electLeader()
	}
	ep := m.LeaderEndpoint
	if ep == "" {
		return
	}
	if l := s.links[ep]; l != nil {
		// Ask the named node at once (at most once per probe interval, so
		// two nodes naming each other cannot start a storm).
		if o := l.cur; o != nil && (o != s.leader || o.term < s.maxTerm) && now.Sub(o.lastHello) >= s.probeInterval() {
			s.hello(o, now)
		}
		return
	}
	if s.phase != phaseServing || s.knowsNode(m.LeaderID) || checkEndpoint(ep) != nil {
		return
	}
	if _, ok := s.candidates[ep]; !ok {
		s.candidates[ep] = candidate{leaderID: m.LeaderID, term: m.Term, since: now}
	}
}

// onDispatch fences, de-duplicates, admits and starts a job.
func (s *session) onDispatch(c *conn, m wire.Message, now time.Time) {
	if m.Term < s.maxTerm {
		s.reject(c, m.RunID, m.Attempt, m.Term, ReasonStaleTerm)
		return
	}
	s.noteTerm(m.Term)
	if r := s.ledger.get(m.RunID); r != nil && s.onDuplicate(c, r, m, now) {
		return
	}
	fn := s.handlers[m.Method]
	switch {
	case fn == nil:
		s.reject(c, m.RunID, m.Attempt, m.Term, ReasonUnknownMethod)
	case s.phase != phaseServing:
		s.reject(c, m.RunID, m.Attempt, m.Term, ReasonShuttingDown)
	case s.active >= s.cfg.Capacity:
		s.reject(c, m.RunID, m.Attempt, m.Term, ReasonOverCapacity)
	default:
		s.start(c, m, fn, now)
	}
}

// onDuplicate answers a dispatch of a run id this process already has and
// reports whether it did. The newest attempt takes over the existing
// execution (its accepted and result report that attempt); only a higher
// attempt of a run whose result was acknowledged runs again (a retry).
func (s *session) onDuplicate(c *conn, r *run, m wire.Message, now time.Time) bool {
	switch {
	case r.state == runAcked && m.Attempt > r.attempt:
		return false
	case m.Attempt < r.attempt:
		s.reject(c, m.RunID, m.Attempt, m.Term, ReasonStaleAttempt)
		return true
	}
	r.attempt, r.term, r.conn = m.Attempt, m.Term, c
	s.log.Debug("duplicate dispatch", slog.String(logKeyRunID, r.id), slog.Int(logKeyAttempt, r.attempt))
	switch r.state {
	case runStarting:
		// accepted goes out once BeforeRunFunc returns.
	case runFinished:
		s.accept(r)
		s.sendResult(r, now)
	default:
		s.accept(r)
	}
	return true
}

func (s *session) onResultAck(m wire.Message) {
	r := s.ledger.get(m.RunID)
	if r == nil || r.state != runFinished || (m.Attempt != 0 && m.Attempt < r.attempt) {
		return // late, duplicate or for an attempt since superseded
	}
	s.ledger.retire(r)
	s.metrics.pending.Set(float64(len(s.ledger.pending)))
}

func (s *session) onCancel(m wire.Message) {
	r := s.ledger.get(m.RunID)
	if r == nil || (r.state != runStarting && r.state != runRunning) || (m.Term != 0 && m.Term < s.maxTerm) {
		return
	}
	s.log.Info("run cancelled by the cluster", slog.String(logKeyRunID, r.id), slog.String(logKeyReason, m.Reason))
	r.cancel(ErrCancelled)
}

// accept tells r's latest dispatcher (or the leader) that r was taken.
func (s *session) accept(r *run) {
	if c := s.replyConn(r); c != nil {
		s.enqueue(c, wire.Message{Type: wire.TypeAccepted, RunID: r.id, Attempt: r.attempt, Term: r.term})
	}
}

func (s *session) reject(c *conn, runID string, attempt int, term uint64, reason string) {
	s.metrics.rejects.WithLabelValues(reason).Inc()
	s.log.Info("dispatch rejected", slog.String(logKeyRunID, runID), slog.Int(logKeyAttempt, attempt),
		slog.Uint64(logKeyTerm, term), slog.String(logKeyReason, reason))
	if c != nil {
		s.enqueue(c, wire.Message{Type: wire.TypeReject, RunID: runID, Attempt: attempt, Term: term, Reason: reason})
	}
}

// replyConn is where answers about r go: the connection of its latest
// dispatch while alive, else the leader's (nil if none).
func (s *session) replyConn(r *run) *conn {
	if r.conn != nil && !r.conn.dead {
		return r.conn
	}
	return s.leader
}
