package dispatch

import (
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

// Handler instance states.
const (
	stateLive    = "live"
	stateLost    = "lost"
	stateUnknown = "unknown" // registered in the FSM, not (yet) connected to this leader
)

// handlerState is one handler instance in the leader's memory.
type handlerState struct {
	name, instance, peer string
	methods              []string
	capacity             int
	inflight             map[string]bool // run IDs outstanding (credit in use)
	lastSeen             time.Time
	state                string
}

func (h *handlerState) serves(method string) bool {
	return len(h.methods) == 0 || slices.Contains(h.methods, method)
}

// rebuildHandlers loads the registered instances after a leadership gain;
// they stay "unknown" until they say hello or expire.
func (l *leader) rebuildHandlers() {
	now := l.now()
	for _, hi := range l.d.cfg.Cluster.FSM().Handlers() {
		l.hs[hi.Instance] = &handlerState{name: hi.Name, instance: hi.Instance, methods: hi.Methods, capacity: hi.Capacity,
			inflight: map[string]bool{}, lastSeen: now, state: stateUnknown}
	}
}

// pick is the least-loaded live instance of s.Handler serving s.Method
// with free credit, preferring prefer and never exclude.
func (l *leader) pick(s *fsm.Schedule, prefer, exclude string) *handlerState {
	if h := l.hs[prefer]; h != nil && h.state == stateLive && h.name == s.Handler && h.serves(s.Method) && len(h.inflight) < h.capacity {
		return h
	}
	var best *handlerState
	for _, h := range l.hs {
		if h.state != stateLive || h.name != s.Handler || h.instance == exclude || !h.serves(s.Method) || len(h.inflight) >= h.capacity {
			continue
		}
		if best == nil || len(h.inflight) < len(best.inflight) || (len(h.inflight) == len(best.inflight) && h.instance < best.instance) {
			best = h
		}
	}
	return best
}

// handleInbound processes in and whatever else is queued, committing the
// resulting events in one Propose.
func (l *leader) handleInbound(in transport.Inbound) error {
	now := l.now()
	ps := l.inbound(in, now)
	for more := true; more && len(ps) < l.d.cfg.MaxFiresPerBatch; {
		select {
		case in := <-l.inbox:
			ps = append(ps, l.inbound(in, now)...)
		default:
			more = false
		}
	}
	return l.commitNonFatal(ps)
}

func (l *leader) instanceOf(in transport.Inbound) *handlerState {
	if in.Msg.Instance != "" {
		if h := l.hs[in.Msg.Instance]; h != nil {
			return h
		}
	}
	return l.hs[l.peers[in.Peer]]
}

func (l *leader) inbound(in transport.Inbound, now time.Time) []pending {
	m := in.Msg
	if m.Type == wire.TypeHello {
		return l.hello(in, now)
	}
	h := l.instanceOf(in)
	if h == nil && m.Type != wire.TypeGoodbye {
		l.redirectToSelf(in.Peer) // a handler that has not said hello to this term's leader
	}
	if h != nil {
		h.lastSeen = now
		if h.state != stateLive && h.peer == in.Peer {
			h.state = stateLive
		}
	}
	switch m.Type {
	case wire.TypeAccepted:
		return l.accepted(in, h, now)
	case wire.TypeResult:
		return l.result(in, h, now)
	case wire.TypeReject:
		if rs, ok := l.runs[m.RunID]; ok && h != nil && rs.instance == h.instance && rs.phase == phaseSent {
			delete(h.inflight, rs.id)
			rs.phase, rs.prefer = phaseWaiting, ""
		}
	case wire.TypeGoodbye:
		if h != nil && h.peer == in.Peer {
			return l.lose(h, now)
		}
	}
	return nil
}

// hello (re-)registers an instance and answers welcome once registered.
func (l *leader) hello(in transport.Inbound, now time.Time) []pending {
	m := in.Msg
	h := l.hs[m.Instance]
	if h == nil {
		h = &handlerState{instance: m.Instance, inflight: map[string]bool{}}
		l.hs[m.Instance] = h
	}
	if h.peer != "" && h.peer != in.Peer {
		delete(l.peers, h.peer)
	}
	h.name, h.peer, h.methods, h.capacity, h.lastSeen, h.state = m.Name, in.Peer, m.Methods, m.Capacity, now, stateLive
	l.peers[in.Peer] = m.Instance
	for _, id := range m.Running {
		if rs, ok := l.runs[id]; ok && rs.phase != phaseRunning {
			rs.prefer = m.Instance
		}
	}
	welcome := func() {
		_ = l.send(in.Peer, wire.Message{Type: wire.TypeWelcome, HeartbeatMS: int(l.d.cfg.HeartbeatInterval / time.Millisecond), Liveness: l.d.cfg.Liveness})
	}
	info := fsm.HandlerInfo{Name: m.Name, Instance: m.Instance, Methods: m.Methods, Capacity: m.Capacity}
	if l.registered(info) {
		welcome()
		return nil
	}
	return []pending{{ev: fsm.Event{Type: fsm.HandlerRegistered, Handler: &info}, then: func(res fsm.Result) {
		if res.Err != nil {
			l.d.log.Warn("handler registration rejected", "instance", m.Instance, "err", res.Err)
			return
		}
		welcome()
	}}}
}

func (l *leader) registered(info fsm.HandlerInfo) bool {
	for _, hi := range l.d.cfg.Cluster.FSM().Handlers() {
		if hi.Instance == info.Instance {
			return hi.Name == info.Name && hi.Capacity == info.Capacity && slices.Equal(hi.Methods, info.Methods)
		}
	}
	return false
}

// accepted commits run.accepted for the current attempt.
func (l *leader) accepted(in transport.Inbound, h *handlerState, now time.Time) []pending {
	m := in.Msg
	rs, ok := l.runs[m.RunID]
	r, rok := l.d.cfg.Cluster.FSM().Run(m.RunID)
	if h == nil {
		return nil
	}
	if !rok || r.Status.Terminal() || m.Attempt != r.Attempt {
		// Stale: stop it and take the credit back.
		_ = l.send(in.Peer, wire.Message{Type: wire.TypeCancel, RunID: m.RunID, Attempt: m.Attempt, Reason: "stale"})
		delete(h.inflight, m.RunID)
		return nil
	}
	if !ok || rs.busy {
		return nil
	}
	if rs.phase == phaseRunning && rs.instance != h.instance {
		// A re-sent dispatch was accepted twice: keep the first.
		_ = l.send(in.Peer, wire.Message{Type: wire.TypeCancel, RunID: m.RunID, Attempt: m.Attempt, Reason: "duplicate"})
		delete(h.inflight, m.RunID)
		return nil
	}
	h.inflight[m.RunID] = true
	s, _ := l.d.cfg.Cluster.FSM().Get(rs.schedID)
	start := func() {
		rs.phase, rs.instance = phaseRunning, h.instance
		rs.deadline = time.Time{}
		if s != nil && s.Policy.Timeout > 0 {
			rs.deadline = now.Add(time.Duration(s.Policy.Timeout))
		}
	}
	if r.Status == fsm.StatusRunning && r.HandlerInstance == h.instance {
		start() // re-accepted after a failover: nothing to commit
		return nil
	}
	start()
	l.d.m.latency.Observe(now.Sub(r.DueAt).Seconds())
	return []pending{{ev: fsm.Event{Type: fsm.RunAccepted, RunID: m.RunID, Attempt: m.Attempt, Instance: h.instance}}}
}

// result commits the outcome of the current attempt and acks it.
func (l *leader) result(in transport.Inbound, h *handlerState, now time.Time) []pending {
	m := in.Msg
	ack := func() {
		_ = l.send(in.Peer, wire.Message{Type: wire.TypeResultAck, RunID: m.RunID, Attempt: m.Attempt})
	}
	if h != nil {
		delete(h.inflight, m.RunID)
	}
	r, ok := l.d.cfg.Cluster.FSM().Run(m.RunID)
	if !ok || r.Status.Terminal() || m.Attempt != r.Attempt {
		ack() // stale or already decided: the handler may forget it
		return nil
	}
	rs := l.track(r)
	if rs.busy {
		return nil // the handler re-sends until acked
	}
	if m.StartedAt != nil && m.FinishedAt != nil {
		l.d.m.duration.Observe(m.FinishedAt.Sub(*m.StartedAt).Seconds())
	}
	if m.OK {
		rs.busy = true
		return []pending{{ev: fsm.Event{Type: fsm.RunSucceeded, RunID: m.RunID, Attempt: m.Attempt, Result: json.RawMessage(m.Result)},
			then: func(res fsm.Result) { l.untrack(m.RunID); ack() }}}
	}
	ps := l.retryOrFail(rs, now, m.Error, fsm.RunFailed)
	for i := range ps {
		then := ps[i].then
		ps[i].then = func(res fsm.Result) { then(res); ack() }
	}
	return ps
}

// checkHandlers marks silent instances lost (retrying their runs) and
// expires long-silent ones.
func (l *leader) checkHandlers(now time.Time) error {
	var ps []pending
	liveFor := time.Duration(l.d.cfg.Liveness) * l.d.cfg.HeartbeatInterval
	for _, h := range l.hs {
		silent := now.Sub(h.lastSeen)
		if h.state == stateLive && silent > liveFor {
			l.d.log.Info("handler instance lost", "instance", h.instance, "silent", silent)
			ps = append(ps, l.lose(h, now)...)
		}
		if h.state != stateLive && silent > l.d.cfg.HandlerExpiry {
			inst := h.instance
			ps = append(ps, l.lose(h, now)...)
			delete(l.hs, inst)
			delete(l.peers, h.peer)
			ps = append(ps, pending{ev: fsm.Event{Type: fsm.HandlerExpired, Instance: inst}})
		}
	}
	return l.commitNonFatal(ps)
}

// lose marks h lost: unaccepted dispatches go back to waiting (same
// attempt), accepted ones are retried with a new attempt.
func (l *leader) lose(h *handlerState, now time.Time) []pending {
	h.state = stateLost
	var ps []pending
	for id := range h.inflight {
		delete(h.inflight, id)
		rs, ok := l.runs[id]
		if !ok || rs.instance != h.instance || rs.busy {
			continue
		}
		if rs.phase == phaseRunning {
			ps = append(ps, l.retryOrFail(rs, now, "handler instance lost", fsm.RunLost)...)
			continue
		}
		rs.phase, rs.prefer = phaseWaiting, ""
	}
	for _, rs := range l.runs { // failover runs still recorded on this instance
		if rs.prefer == h.instance {
			rs.prefer = ""
		}
	}
	return ps
}

// heartbeat pings every live instance.
func (l *leader) heartbeat() {
	for _, h := range l.hs {
		if h.state == stateLive {
			_ = l.send(h.peer, wire.Message{Type: wire.TypeHeartbeat})
		}
	}
}

// publish exposes the handler view and the gauges.
func (l *leader) publish() {
	out := make([]HandlerStatus, 0, len(l.hs))
	counts := map[string]int{stateLive: 0, stateLost: 0, stateUnknown: 0}
	outstanding := 0
	for _, h := range l.hs {
		out = append(out, HandlerStatus{Name: h.name, Instance: h.instance, State: h.state, Capacity: h.capacity, InFlight: len(h.inflight), LastSeen: h.lastSeen.UTC()})
		counts[h.state]++
		outstanding += len(h.inflight)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Instance < out[j].Instance
	})
	l.d.handlers.Store(&out)
	for st, n := range counts {
		l.d.m.instances.WithLabelValues(st).Set(float64(n))
	}
	l.d.m.outstanding.Set(float64(outstanding))
}

// redirectToSelf asks a peer unknown to this leader (e.g. after this node
// lost and regained leadership) to say hello: a redirect naming this node.
func (l *leader) redirectToSelf(peer string) {
	m := wire.Message{Type: wire.TypeRedirect, LeaderID: l.d.cfg.NodeID}
	if info, ok := l.d.cfg.Cluster.FSM().Node(l.d.cfg.NodeID); ok {
		m.LeaderEndpoint = info.ZMQAddr
	}
	_ = l.send(peer, m)
}
