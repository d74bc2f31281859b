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

// maxHelloRunning is the SDK's bound on hello.running (docs/protocol.md): a
// list that long may be truncated, so it does not count as a complete
// account of the instance's runs (holdUntil).
const maxHelloRunning = 1024

// handlerState is one handler instance in the leader's memory.
type handlerState struct {
	name, instance, peer string
	methods              []string
	capacity             int
	inflight             map[string]bool // run IDs outstanding (credit in use)
	lastSeen             time.Time
	state                string
	// registered: the instance is in the FSM's handler set. Only registered
	// instances are sent dispatches, so a new leader that has heard from
	// every registered instance knows where every interrupted run can be.
	registered bool
	// heard: said hello to this leader with a complete running list (or
	// was not registered when this leadership began).
	heard bool
}

func (h *handlerState) serves(method string) bool {
	return len(h.methods) == 0 || slices.Contains(h.methods, method)
}

func (h *handlerState) canTake() bool {
	return h.state == stateLive && h.registered && len(h.inflight) < h.capacity
}

// rebuildHandlers loads the registered instances after a leadership gain;
// they stay "unknown" until they say hello or expire.
func (l *leader) rebuildHandlers() {
	now := l.now()
	for _, hi := range l.fsm.Handlers() {
		h := &handlerState{name: hi.Name, instance: hi.Instance, methods: hi.Methods, capacity: hi.Capacity,
			inflight: map[string]bool{}, lastSeen: now, state: stateUnknown, registered: true}
		l.hs[hi.Instance] = h
		l.index(h)
		l.unheard++
	}
	l.hsDirty = true
}

// index adds h to the per-name list (pick and hasCredit look only there).
func (l *leader) index(h *handlerState) {
	l.byName[h.name] = append(l.byName[h.name], h)
}

func (l *leader) unindex(h *handlerState) {
	list := l.byName[h.name]
	if i := slices.Index(list, h); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(l.byName, h.name)
		return
	}
	l.byName[h.name] = list
}

// credit notes that an instance may take more work: its name's ready
// queue is drained at the end of the step.
func (l *leader) credit(h *handlerState) {
	l.dirty[h.name] = struct{}{}
}

func (l *leader) hasCredit(name string) bool {
	for _, h := range l.byName[name] {
		if h.canTake() {
			return true
		}
	}
	return false
}

// pick is the least-loaded live, registered instance of s.Handler serving
// s.Method with free credit, preferring prefer and never exclude.
func (l *leader) pick(s *fsm.Schedule, prefer, exclude string) *handlerState {
	if h := l.hs[prefer]; h != nil && h.name == s.Handler && h.canTake() && h.serves(s.Method) {
		return h
	}
	var best *handlerState
	for _, h := range l.byName[s.Handler] {
		if h.instance == exclude || !h.canTake() || !h.serves(s.Method) {
			continue
		}
		if best == nil || len(h.inflight) < len(best.inflight) || (len(h.inflight) == len(best.inflight) && h.instance < best.instance) {
			best = h
		}
	}
	return best
}

// handleInbound processes in and whatever else is queued (up to one
// batch), queuing the resulting events for the next flush.
func (l *leader) handleInbound(in transport.Inbound) {
	now := l.now()
	l.inbound(in, now)
	for i := 1; i < l.d.cfg.MaxFiresPerBatch && l.room() && l.stopErr == nil; i++ {
		select {
		case in := <-l.inbox:
			l.inbound(in, now)
		default:
			return
		}
	}
}

func (l *leader) instanceOf(in transport.Inbound) *handlerState {
	if in.Msg.Instance != "" {
		if h := l.hs[in.Msg.Instance]; h != nil {
			return h
		}
	}
	return l.hs[l.peers[in.Peer]]
}

func (l *leader) inbound(in transport.Inbound, now time.Time) {
	m := in.Msg
	if m.Type == wire.TypeHello {
		l.hello(in, now)
		return
	}
	h := l.instanceOf(in)
	if h == nil && m.Type != wire.TypeGoodbye {
		l.redirectToSelf(in.Peer) // a handler that has not said hello to this term's leader
	}
	if h != nil {
		h.lastSeen = now
		if h.state != stateLive && h.peer == in.Peer {
			h.state, l.hsDirty = stateLive, true
			l.credit(h)
			if len(l.held) > 0 {
				l.rehold(now)
			}
		}
	}
	switch m.Type {
	case wire.TypeAccepted:
		l.accepted(in, h, now)
	case wire.TypeResult:
		l.result(in, h, now)
	case wire.TypeReject:
		if rs := l.runs[m.RunID]; rs != nil && h != nil && rs.instance == h.instance && rs.phase == phaseSent && !rs.busy {
			delete(h.inflight, rs.id)
			l.credit(h)
			rs.phase, rs.prefer = phaseWaiting, ""
			l.place(rs, now)
		}
	case wire.TypeGoodbye:
		if h != nil && h.peer == in.Peer {
			l.lose(h, now)
		}
	}
}

// hello (re-)registers an instance and answers welcome once registered.
func (l *leader) hello(in transport.Inbound, now time.Time) {
	m := in.Msg
	h := l.hs[m.Instance]
	if h == nil {
		h = &handlerState{instance: m.Instance, name: m.Name, inflight: make(map[string]bool, m.Capacity), heard: true}
		l.hs[m.Instance] = h
		l.index(h)
	}
	if h.peer != "" && h.peer != in.Peer {
		delete(l.peers, h.peer)
	}
	if h.name != m.Name {
		l.unindex(h)
		h.name = m.Name
		l.index(h)
	}
	h.peer, h.methods, h.capacity, h.lastSeen, h.state = in.Peer, m.Methods, m.Capacity, now, stateLive
	l.peers[in.Peer] = m.Instance
	l.hsDirty = true
	for _, id := range m.Running {
		if rs := l.runs[id]; rs != nil && rs.phase != phaseRunning {
			rs.prefer, rs.early = m.Instance, false // it was sent: no longer a pending precommit
		}
	}
	if !h.heard && len(m.Running) < maxHelloRunning {
		h.heard = true
		l.unheard--
	}
	info := fsm.HandlerInfo{Name: m.Name, Instance: m.Instance, Methods: m.Methods, Capacity: m.Capacity}
	present, same := l.registeredAs(info)
	h.registered = present
	if same {
		l.welcome(in.Peer)
	} else {
		l.push(pending{kind: kindRegistered, h: h, peer: in.Peer, ev: fsm.Event{Type: fsm.HandlerRegistered, Handler: &info}})
	}
	l.credit(h)
	if len(l.held) > 0 {
		l.rehold(now)
	}
}

// registeredAs reports whether the instance is in the FSM's handler set
// and whether its record equals info.
func (l *leader) registeredAs(info fsm.HandlerInfo) (present, same bool) {
	for _, hi := range l.fsm.Handlers() {
		if hi.Instance == info.Instance {
			return true, hi.Name == info.Name && hi.Capacity == info.Capacity && slices.Equal(hi.Methods, info.Methods)
		}
	}
	return false, false
}

func (l *leader) registeredDone(p *pending, res fsm.Result) {
	if res.Err != nil {
		l.d.log.Warn("handler registration rejected", "instance", p.h.instance, "err", res.Err)
		return
	}
	if h := l.hs[p.h.instance]; h == p.h {
		h.registered = true
		l.credit(h)
	}
	l.welcome(p.peer)
}

func (l *leader) welcome(peer string) {
	_ = l.send(peer, wire.Message{Type: wire.TypeWelcome, HeartbeatMS: int(l.d.cfg.HeartbeatInterval / time.Millisecond), Liveness: l.d.cfg.Liveness})
}

// syncHandler applies one handler change from the feed (registration or
// expiry): O(handlers), rare.
func (l *leader) syncHandler(instance string) {
	h := l.hs[instance]
	if h == nil {
		return
	}
	present, _ := l.registeredAs(fsm.HandlerInfo{Instance: instance})
	if present != h.registered {
		h.registered = present
		l.credit(h)
	}
}

// accepted queues run.accepted for the current attempt.
func (l *leader) accepted(in transport.Inbound, h *handlerState, now time.Time) {
	m := in.Msg
	if h == nil {
		return
	}
	rs := l.runs[m.RunID]
	r, rok := l.fsm.Run(m.RunID)
	if !rok || r.Status.Terminal() || m.Attempt != r.Attempt {
		// Stale: stop it and take the credit back.
		_ = l.send(in.Peer, wire.Message{Type: wire.TypeCancel, RunID: m.RunID, Attempt: m.Attempt, Reason: "stale"})
		delete(h.inflight, m.RunID)
		l.credit(h)
		return
	}
	if rs == nil {
		return
	}
	if rs.phase == phaseRunning && rs.instance != h.instance {
		// A re-sent dispatch was accepted twice: keep the first.
		_ = l.send(in.Peer, wire.Message{Type: wire.TypeCancel, RunID: m.RunID, Attempt: m.Attempt, Reason: "duplicate"})
		delete(h.inflight, m.RunID)
		l.credit(h)
		return
	}
	if rs.busy {
		return
	}
	h.inflight[m.RunID] = true
	rs.phase, rs.instance, rs.deadline, rs.early = phaseRunning, h.instance, time.Time{}, false
	if s, ok := l.fsm.Get(rs.schedID); ok && s.Policy.Timeout > 0 {
		rs.deadline = now.Add(time.Duration(s.Policy.Timeout))
	}
	if r.Status == fsm.StatusRunning && r.HandlerInstance == h.instance {
		l.place(rs, now) // re-accepted after a failover: nothing to commit
		return
	}
	l.d.m.latency.Observe(now.Sub(r.DueAt).Seconds())
	l.unplace(rs)
	rs.busy = true
	l.push(pending{kind: kindAccepted, rs: rs, ev: fsm.Event{Type: fsm.RunAccepted, RunID: m.RunID, Attempt: m.Attempt, Instance: h.instance}})
}

// result queues the outcome of the current attempt; result_ack follows
// the commit (or goes at once for a stale result). A result that arrives
// while the run's acceptance is being committed is parked until then.
func (l *leader) result(in transport.Inbound, h *handlerState, now time.Time) {
	m := in.Msg
	if h != nil && h.inflight[m.RunID] {
		delete(h.inflight, m.RunID)
		l.credit(h)
	}
	r, ok := l.fsm.Run(m.RunID)
	if !ok || r.Status.Terminal() || m.Attempt != r.Attempt {
		l.ackTo(in.Peer, m.RunID, m.Attempt) // stale or already decided: the handler may forget it
		return
	}
	rs := l.runs[m.RunID]
	if rs == nil {
		rs = l.track(r)
	}
	if rs.busy {
		parked := in // 1 alloc, only on this path
		rs.parked = &parked
		return
	}
	if m.StartedAt != nil && m.FinishedAt != nil {
		l.d.m.duration.Observe(m.FinishedAt.Sub(*m.StartedAt).Seconds())
	}
	if m.OK {
		l.unplace(rs)
		rs.busy = true
		l.push(pending{kind: kindSucceeded, rs: rs, peer: in.Peer,
			ev: fsm.Event{Type: fsm.RunSucceeded, RunID: m.RunID, Attempt: m.Attempt, Result: json.RawMessage(m.Result)}})
		return
	}
	l.retryOrFail(rs, now, m.Error, fsm.RunFailed, in.Peer)
}

// ack answers result_ack for a committed result event.
func (l *leader) ack(p *pending) {
	if p.peer != "" {
		l.ackTo(p.peer, p.ev.RunID, p.ev.Attempt)
	}
}

func (l *leader) ackTo(peer, runID string, attempt int) {
	_ = l.send(peer, wire.Message{Type: wire.TypeResultAck, RunID: runID, Attempt: attempt})
}

// checkHandlers marks silent instances lost (retrying their runs) and
// expires long-silent ones; it sets when the next check is due (the
// earliest instant any instance can become lost or expired, so the loop
// does not poll).
func (l *leader) checkHandlers(now time.Time) {
	liveFor := time.Duration(l.d.cfg.Liveness) * l.d.cfg.HeartbeatInterval
	var next time.Time
	for inst, h := range l.hs {
		silent := now.Sub(h.lastSeen)
		if h.state == stateLive && silent > liveFor {
			l.d.log.Info("handler instance lost", "instance", h.instance, "silent", silent)
			l.lose(h, now)
		}
		if h.state != stateLive && silent > l.d.cfg.HandlerExpiry {
			l.lose(h, now)
			delete(l.hs, inst)
			delete(l.peers, h.peer)
			l.unindex(h)
			if !h.heard {
				l.unheard--
				if l.unheard == 0 && len(l.held) > 0 {
					l.rehold(now)
				}
			}
			l.push(pending{kind: kindPlain, ev: fsm.Event{Type: fsm.HandlerExpired, Instance: inst}})
			continue
		}
		at := h.lastSeen.Add(l.d.cfg.HandlerExpiry)
		if h.state == stateLive {
			at = h.lastSeen.Add(liveFor)
		}
		next = earliest(next, at.Add(time.Nanosecond))
	}
	l.handlerCheckAt = next
}

// lose marks h lost: unaccepted dispatches go back to waiting (same
// attempt), accepted ones are retried with a new attempt.
func (l *leader) lose(h *handlerState, now time.Time) {
	h.state, l.hsDirty = stateLost, true
	for id := range h.inflight {
		delete(h.inflight, id)
		rs := l.runs[id]
		if rs == nil || rs.instance != h.instance || rs.busy {
			continue // a busy run checks its instance when its commit returns
		}
		if rs.phase == phaseRunning {
			l.retryOrFail(rs, now, "handler instance lost", fsm.RunLost, "")
			continue
		}
		rs.phase, rs.prefer = phaseWaiting, ""
		l.place(rs, now)
	}
	// Failover runs still recorded on this instance: O(active runs), once
	// per lost instance.
	for _, rs := range l.runs {
		if rs.prefer == h.instance {
			rs.prefer = ""
		}
	}
	if len(l.held) > 0 {
		l.rehold(now)
	}
}

// heartbeat pings every live instance.
func (l *leader) heartbeat() {
	for _, h := range l.hs {
		if h.state == stateLive {
			_ = l.send(h.peer, wire.Message{Type: wire.TypeHeartbeat})
		}
	}
}

// publish exposes the handler view and the handler gauges. It runs on
// every heartbeat tick and when an instance changed state, not per
// dispatch: in_flight and last_seen in the API are up to one heartbeat old.
func (l *leader) publish() {
	l.hsDirty = false
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
	if info, ok := l.fsm.Node(l.d.cfg.NodeID); ok {
		m.LeaderEndpoint = info.ZMQAddr
	}
	_ = l.send(peer, m)
}
