package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/dispatch"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/trigger"
	"github.com/schedulezero/schedulezero/wire"
)

// fakeCluster applies proposals to a real fsm.FSM, stamping At from the
// (synctest) clock.
type fakeCluster struct {
	f       *fsm.FSM
	changes chan bool
	leader  atomic.Bool
	term    atomic.Uint64

	mu        sync.Mutex
	index     uint64
	proposals [][]fsm.Event
	failErr   error
	// hold makes Propose wait until the test releases the call (pipelining
	// tests); held lists the waiting calls in arrival order.
	hold bool
	held []*heldCall
	// nowFunc stamps Event.At (default time.Now, which synctest fakes).
	nowFunc func() time.Time
	// delay is each Propose's commit latency (slept before applying).
	delay time.Duration
}

func (c *fakeCluster) now() time.Time {
	if c.nowFunc != nil {
		return c.nowFunc()
	}
	return time.Now()
}

// heldCall is one Propose waiting for the test to release it.
type heldCall struct {
	evs     []fsm.Event
	release chan struct{}
}

func newFakeCluster() *fakeCluster {
	c := &fakeCluster{f: fsm.New(), changes: make(chan bool, 1)}
	c.f.Apply(1, mustEncode([]fsm.Event{{Type: fsm.NodeUpserted, At: time.Now(), Node: &fsm.NodeInfo{ID: "n1", ZMQAddr: "tcp://n1:4242"}}}))
	c.index = 1
	return c
}

func mustEncode(evs []fsm.Event) []byte {
	b, err := fsm.Encode(evs)
	if err != nil {
		panic(err)
	}
	return b
}

// Propose applies evs like cluster.Node.Propose: it copies them, runs
// included (the dispatcher reuses a batch's storage once Propose has
// returned; the real cluster has encoded it by then), and honours ctx
// while held.
func (c *fakeCluster) Propose(ctx context.Context, evs ...fsm.Event) ([]fsm.Result, error) {
	evs = slices.Clone(evs)
	for i := range evs {
		if r := evs[i].Run; r != nil {
			cp := *r
			evs[i].Run = &cp
		}
	}
	c.mu.Lock()
	if d := c.delay; d > 0 {
		c.mu.Unlock()
		time.Sleep(d)
		c.mu.Lock()
	}
	if c.hold {
		hc := &heldCall{evs: evs, release: make(chan struct{})}
		c.held = append(c.held, hc)
		c.mu.Unlock()
		select {
		case <-hc.release:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", cluster.ErrTimeout, ctx.Err())
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if !c.leader.Load() {
		return nil, cluster.ErrNotLeader
	}
	if c.failErr != nil {
		return nil, c.failErr
	}
	now := c.now()
	for i := range evs {
		evs[i].At = now
	}
	c.proposals = append(c.proposals, evs)
	c.index++
	return c.f.Apply(c.index, mustEncode(evs)), nil
}

// setHold makes later Propose calls wait for release.
func (c *fakeCluster) setHold(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = v
}

// heldCalls returns the Propose calls waiting for release.
func (c *fakeCluster) heldCalls() []*heldCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.held)
}

func (c *fakeCluster) FSM() *fsm.FSM                  { return c.f }
func (c *fakeCluster) LeadershipChanges() <-chan bool { return c.changes }
func (c *fakeCluster) IsLeader() bool                 { return c.leader.Load() }
func (c *fakeCluster) Self() cluster.Self {
	s := cluster.Self{ID: "n1", Term: c.term.Load()}
	if c.leader.Load() {
		s.LeaderID = "n1"
	} else {
		s.LeaderID = "n2"
	}
	return s
}

func (c *fakeCluster) setLeader(v bool) {
	if v {
		c.term.Add(1)
	}
	c.leader.Store(v)
	select {
	case <-c.changes:
	default:
	}
	c.changes <- v
}

func (c *fakeCluster) setFail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failErr = err
}

// proposalsWith returns the proposals that contain an event of type t.
func (c *fakeCluster) proposalsWith(t fsm.EventType) [][]fsm.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]fsm.Event
	for _, p := range c.proposals {
		for _, ev := range p {
			if ev.Type == t {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// fakeListener is a transport.Listener whose peers are test handlers.
type fakeListener struct {
	t  *testing.T
	in chan transport.Inbound

	mu    sync.Mutex
	peers map[string]*fakeHandler
	sent  []transport.Inbound // Peer = destination
}

func newFakeListener(t *testing.T) *fakeListener {
	return &fakeListener{t: t, in: make(chan transport.Inbound, 1024), peers: map[string]*fakeHandler{}}
}

func (l *fakeListener) Recv(ctx context.Context) (transport.Inbound, error) {
	select {
	case in := <-l.in:
		return in, nil
	case <-ctx.Done():
		return transport.Inbound{}, ctx.Err()
	}
}

func (l *fakeListener) Send(_ context.Context, peer string, m wire.Message) error {
	l.mu.Lock()
	l.sent = append(l.sent, transport.Inbound{Peer: peer, Msg: m})
	h := l.peers[peer]
	l.mu.Unlock()
	if h != nil {
		h.receive(m)
	}
	return nil
}

func (l *fakeListener) Endpoint() string { return "tcp://n1:4242" }
func (l *fakeListener) Close() error     { return nil }

func (l *fakeListener) sentTo(peer string, t wire.Type) []wire.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []wire.Message
	for _, s := range l.sent {
		if s.Peer == peer && s.Msg.Type == t {
			out = append(out, s.Msg)
		}
	}
	return out
}

func (l *fakeListener) countType(t wire.Type) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.sent {
		if s.Msg.Type == t {
			n++
		}
	}
	return n
}

// fakeHandler is a scripted handler instance.
type fakeHandler struct {
	l        *fakeListener
	peer     string
	instance string
	name     string
	capacity int
	// accept: answer dispatches with accepted; then, after work, a result
	// with ok (unless fail).
	accept bool
	fail   bool
	work   time.Duration
	silent atomic.Bool // stops answering anything (SIGSTOP)

	mu       sync.Mutex
	received []received
	seen     map[string]bool
}

type received struct {
	msg wire.Message
	at  time.Time
}

func (l *fakeListener) addHandler(instance string, capacity int, accept bool) *fakeHandler {
	h := &fakeHandler{l: l, peer: "peer-" + instance, instance: instance, name: "h", capacity: capacity, accept: accept, seen: map[string]bool{}}
	l.mu.Lock()
	l.peers[h.peer] = h
	l.mu.Unlock()
	h.send(wire.Message{Type: wire.TypeHello, Name: h.name, Instance: instance, Capacity: capacity})
	stop := make(chan struct{})
	l.t.Cleanup(func() { close(stop) })
	go func() { // heartbeats to the node, like the SDK's leader link
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				if !h.silent.Load() {
					h.send(wire.Message{Type: wire.TypeHeartbeat})
				}
			}
		}
	}()
	return h
}

func (h *fakeHandler) send(m wire.Message) {
	m.V = wire.Version
	h.l.in <- transport.Inbound{Peer: h.peer, Msg: m}
}

func (h *fakeHandler) receive(m wire.Message) {
	h.mu.Lock()
	h.received = append(h.received, received{msg: m, at: time.Now()})
	h.mu.Unlock()
	if h.silent.Load() {
		return
	}
	switch m.Type {
	case wire.TypeHeartbeat:
	case wire.TypeRedirect:
		if m.LeaderID != "n1" {
			return
		}
		h.send(wire.Message{Type: wire.TypeHello, Name: h.name, Instance: h.instance, Capacity: h.capacity})
	case wire.TypeDispatch:
		if !h.accept {
			return
		}
		h.send(wire.Message{Type: wire.TypeAccepted, RunID: m.RunID, Attempt: m.Attempt})
		res := wire.Message{Type: wire.TypeResult, RunID: m.RunID, Attempt: m.Attempt, OK: !h.fail, Result: json.RawMessage(`1`)}
		if h.fail {
			res.Error = "boom"
		}
		time.AfterFunc(h.work, func() {
			if !h.silent.Load() {
				h.send(res)
			}
		})
	}
}

func (h *fakeHandler) dispatches() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []received
	for _, r := range h.received {
		if r.msg.Type == wire.TypeDispatch {
			out = append(out, r)
		}
	}
	return out
}

// harness is one dispatcher over a fake cluster and listener, inside a
// synctest bubble (time starts at 2000-01-01 UTC and advances only when
// every goroutine is blocked).
type harness struct {
	t *testing.T
	c *fakeCluster
	l *fakeListener
	d *dispatch.Dispatcher
}

func newHarness(t *testing.T, mod func(*dispatch.Config)) *harness {
	c, l := newFakeCluster(), newFakeListener(t)
	cfg := dispatch.Config{Cluster: c, Listener: l, NodeID: "n1", Clock: clock.Real{}}
	if mod != nil {
		mod(&cfg)
	}
	d, err := dispatch.New(cfg)
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(d.Stop)
	return &harness{t: t, c: c, l: l, d: d}
}

func (h *harness) lead() {
	h.c.setLeader(true)
	time.Sleep(time.Millisecond)
}

func (h *harness) create(id string, spec trigger.Spec, mod func(*fsm.Schedule)) {
	s := &fsm.Schedule{ID: id, Handler: "h", Method: "m", Trigger: spec, Policy: fsm.DefaultPolicy}
	if mod != nil {
		mod(s)
	}
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index++
	res := c.f.Apply(c.index, mustEncode([]fsm.Event{{Type: fsm.ScheduleCreated, At: c.now(), Schedule: s}}))
	require.NoError(h.t, res[0].Err)
}

func (h *harness) apply(ev fsm.Event) fsm.Result {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index++
	ev.At = c.now()
	return c.f.Apply(c.index, mustEncode([]fsm.Event{ev}))[0]
}

// applyAll applies evs as one log entry (bulk setup).
func (c *fakeCluster) applyAll(t testing.TB, evs []fsm.Event) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index++
	at := c.now()
	for i := range evs {
		evs[i].At = at
	}
	for _, res := range c.f.Apply(c.index, mustEncode(evs)) {
		require.NoError(t, res.Err)
	}
}

// createMany creates n schedules "<prefix>-<i>" from spec in one entry.
func (c *fakeCluster) createMany(t testing.TB, prefix string, n int, spec func(i int) trigger.Spec) {
	t.Helper()
	const chunk = 5000
	for lo := 0; lo < n; lo += chunk {
		evs := make([]fsm.Event, 0, chunk)
		for i := lo; i < min(n, lo+chunk); i++ {
			evs = append(evs, fsm.Event{Type: fsm.ScheduleCreated, Schedule: &fsm.Schedule{
				ID: fmt.Sprintf("%s-%07d", prefix, i), Handler: "h", Method: "m", Trigger: spec(i), Policy: fsm.DefaultPolicy}})
		}
		c.applyAll(t, evs)
	}
}

// metricValue reads one counter or gauge sample from reg (0 when absent);
// labels are name=value pairs.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue metric
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func (h *harness) runs(scheduleID string) []*fsm.Run {
	rs, _ := h.c.f.Runs(fsm.RunFilter{ScheduleID: scheduleID}, "", 10000)
	return rs
}

var errBoom = errors.New("boom")

func every(d string) trigger.Spec { return trigger.Spec{Every: d} }

// heapInUse is the live heap after a full collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// clockAt is a fake clock reading t.
func clockAt(t time.Time) *clock.Fake { return clock.NewFake(t) }
