package handlerclient

import (
	"log/slog"
	"time"
)

// Leader search. Dispatches reach the handler only once the leader has
// welcomed it, so after a failover the time until the handler says hello
// to the new leader adds directly to the first dispatch's delay. Waiting
// for the next heartbeat tick would add up to one interval to every
// failover, so while the client has no current leader it probes: it says
// hello to every connection at once and then every probeInterval, until
// one of them welcomes it with the highest term seen.
//
// The client searches when
//   - it has no leader link: the leader's connection ended (kill -9 of the
//     node closes its TCP connection at once, which the transport reports
//     as ErrConnLost; no heartbeat timeout is waited for), a goodbye or a
//     redirect from it, or no welcome yet;
//   - its leader link is stale: a message carried a higher term than the
//     leader link's welcome (a newer election happened, possibly while the
//     old leader was paused or partitioned).
//
// Redirects that name a connected node get an immediate hello too
// (onRedirect). Probing is fast for searchWindow intervals; a cluster
// without a leader for longer is asked once per heartbeat interval, as
// before, so a long election or partition costs no more than that.
const (
	minProbe     = 20 * time.Millisecond
	maxProbe     = 50 * time.Millisecond
	searchWindow = 5 // heartbeat intervals of fast probing per search
	// quickProbe paces the first quickWindow of a search: a graceful
	// leadership transfer or a fast-profile election completes within it,
	// and every probe interval waited there is added to the failover gap.
	// 300 ms of 5 ms probes is ~60 hellos per node, once per failover.
	quickProbe  = 5 * time.Millisecond
	quickWindow = 300 * time.Millisecond
)

// probeInterval paces hellos during a search: quickProbe while the search
// is younger than quickWindow, then a tenth of the heartbeat interval,
// within [minProbe, maxProbe].
func (s *session) probeInterval() time.Duration {
	if !s.searchSince.IsZero() && s.clock.Since(s.searchSince) < quickWindow {
		return quickProbe
	}
	return min(max(s.interval()/10, minProbe), maxProbe)
}

// searching reports whether the client lacks a current leader.
func (s *session) searching() bool {
	return s.phase != phaseClosed && (s.leader == nil || s.leader.term < s.maxTerm)
}

// updateSearch starts or ends a search after every event of the loop.
func (s *session) updateSearch() {
	switch on := s.searching(); {
	case on && s.searchSince.IsZero():
		now := s.clock.Now()
		s.searchSince = now
		s.log.LogAttrs(s.baseCtx, slog.LevelDebug, "searching for the leader", slog.Uint64(logKeyTerm, s.maxTerm))
		s.probeAll(now)
		s.wakeLinks()
		s.probe.Reset(s.probeInterval())
	case !on && !s.searchSince.IsZero():
		s.log.LogAttrs(s.baseCtx, slog.LevelDebug, "leader found",
			slog.Duration("after", s.clock.Since(s.searchSince)))
		s.searchSince = time.Time{}
		s.probe.Stop()
	}
}

// onProbe says hello again while the search is young.
func (s *session) onProbe() {
	if !s.searching() {
		return
	}
	now := s.clock.Now()
	if now.Sub(s.searchSince) >= searchWindow*s.interval() {
		return // the heartbeat tick asks from now on; updateSearch re-arms on a new search
	}
	s.probeAll(now)
	s.checkCandidates(now)
	s.probe.Reset(s.probeInterval())
}

// probeAll says hello on every live connection but a current leader's,
// unless a hello went there within half a probe interval.
func (s *session) probeAll(now time.Time) {
	for _, l := range s.links {
		c := l.cur
		if c == nil || c.dead || (c == s.leader && c.term >= s.maxTerm) {
			continue
		}
		if now.Sub(c.lastHello) >= s.probeInterval()/2 {
			s.hello(c, now)
		}
	}
}
