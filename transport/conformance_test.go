package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/wire"
)

// The conformance suite: every Listener/Dialer implementation passes the
// same tests (style.md item 5). Implementation-specific behaviour lives in
// zmq_test.go and inmem_test.go.

// testListener and testConn are what the suite needs beyond the
// interfaces: counters, and sending raw frames to exercise the receiving
// side's checks.
type testListener interface {
	Listener
	Stats() Stats
	sendFrame(ctx context.Context, peer string, frame []byte) error
}

type testConn interface {
	Conn
	Stats() Stats
	sendFrame(ctx context.Context, frame []byte) error
}

type harness struct {
	name string
	// listen binds a listener at endpoint, or at a fresh one when endpoint
	// is "". The listener is closed at cleanup.
	listen func(t *testing.T, endpoint string, cfg ListenerConfig) testListener
	dialer func(cfg DialerConfig) Dialer
	// deadEndpoint returns an endpoint nobody listens on.
	deadEndpoint func(t *testing.T) string
}

func harnesses() []harness {
	n := NewInmemNetwork()
	var seq atomic.Int64
	return []harness{
		{
			name: "ZMQ",
			listen: func(t *testing.T, endpoint string, cfg ListenerConfig) testListener {
				t.Helper()
				l, err := ListenZMQ(t.Context(), cmpOr(endpoint, "tcp://127.0.0.1:0"), cfg)
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, l.Close()) })
				return l
			},
			dialer:       func(cfg DialerConfig) Dialer { return ZMQDialer{Config: cfg} },
			deadEndpoint: deadTCPEndpoint,
		},
		{
			name: "Inmem",
			listen: func(t *testing.T, endpoint string, cfg ListenerConfig) testListener {
				t.Helper()
				ep := cmpOr(endpoint, fmt.Sprintf("inmem://node-%d", seq.Add(1)))
				l, err := n.Listen(ep, cfg)
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, l.Close()) })
				return l
			},
			dialer: func(cfg DialerConfig) Dialer { return n.Dialer(cfg) },
			deadEndpoint: func(*testing.T) string {
				return fmt.Sprintf("inmem://dead-%d", seq.Add(1))
			},
		},
	}
}

// Short timeouts keep the suite fast; tests that need others set them.
var (
	testListenerConfig = ListenerConfig{WriteTimeout: 300 * time.Millisecond, HandshakeTimeout: time.Second}
	testDialerConfig   = DialerConfig{WriteTimeout: 300 * time.Millisecond, HandshakeTimeout: time.Second}
)

// conformanceExtra holds suite cases defined in other files.
var conformanceExtra = map[string]func(t *testing.T, h harness){}

func TestConformance(t *testing.T) {
	t.Parallel()
	tests := map[string]func(t *testing.T, h harness){
		"RoundTrip":             testRoundTrip,
		"ManyPeers":             testManyPeers,
		"IdentityRouting":       testIdentityRouting,
		"DuplicateIdentity":     testDuplicateIdentity,
		"StalledPeer":           testStalledPeer,
		"TooLarge":              testTooLarge,
		"Malformed":             testMalformed,
		"CloseUnblocksRecv":     testCloseUnblocksRecv,
		"ListenerRestart":       testListenerRestart,
		"UnknownPeer":           testUnknownPeer,
		"IdleExpiry":            testIdleExpiry,
		"QueueFullAndOrder":     testQueueFullAndOrder,
		"DialErrors":            testDialErrors,
		"ConcurrentSendAndRecv": testConcurrentSendAndRecv,
	}
	maps.Copy(tests, conformanceExtra)
	for _, h := range harnesses() {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			for name, test := range tests {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					test(t, h)
				})
			}
		})
	}
}

// testRoundTrip: hello up, welcome down, a full dispatch down and its
// accepted up; every field survives.
func testRoundTrip(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	c := connect(t, h, l, "reports/i-1/1", testDialerConfig)

	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	dispatch := wire.Message{
		Type: wire.TypeDispatch, RunID: "r-1", ScheduleID: "s-1", Method: "echo",
		Params: json.RawMessage(`{"a":1}`), NominalAt: &now, FiredAt: &now, Deadline: &now,
		Attempt: 2, Term: 7,
	}
	require.NoError(t, l.Send(t.Context(), "reports/i-1/1", wire.Message{Type: wire.TypeWelcome, NodeID: "n1", Term: 7, HeartbeatMS: 1000, Liveness: 3}))
	require.NoError(t, l.Send(t.Context(), "reports/i-1/1", dispatch))
	welcome := recvConnWithin(t, c, 5*time.Second)
	require.Equal(t, wire.TypeWelcome, welcome.Type)
	require.Equal(t, "n1", welcome.NodeID)
	got := recvConnWithin(t, c, 5*time.Second)
	dispatch.V = wire.Version
	require.Equal(t, dispatch, got)

	require.NoError(t, c.Send(t.Context(), wire.Message{Type: wire.TypeAccepted, RunID: "r-1", Attempt: 2, Term: 7}))
	in := recvListenerWithin(t, l, 5*time.Second)
	require.Equal(t, "reports/i-1/1", in.Peer)
	require.Equal(t, wire.TypeAccepted, in.Msg.Type)
	require.Equal(t, "r-1", in.Msg.RunID)

	require.Equal(t, c.Endpoint(), l.Endpoint())
	ls, cs := l.Stats(), c.Stats()
	require.Equal(t, uint64(2), ls.Received) // hello, accepted
	require.Equal(t, uint64(2), cs.Received) // welcome, dispatch
	require.Equal(t, 1, ls.Peers)
	require.Eventually(t, func() bool { return l.Stats().Sent == 2 }, 5*time.Second, 5*time.Millisecond)
}

// testManyPeers: 20 connections register; each gets only its own reply.
func testManyPeers(t *testing.T, h harness) {
	const n = 20
	l := h.listen(t, "", testListenerConfig)
	conns := make([]Conn, n)
	for i := range conns {
		conns[i] = dialConn(t, h, l.Endpoint(), peerID(i), testDialerConfig)
		require.NoError(t, conns[i].Send(t.Context(), hello(peerID(i))))
	}
	seen := map[string]bool{}
	for range n {
		in := recvListenerWithin(t, l, 5*time.Second)
		require.Equal(t, in.Peer, in.Msg.Name, "peer identity matches the sender")
		seen[in.Peer] = true
		for k := range 3 {
			require.NoError(t, l.Send(t.Context(), in.Peer, wire.Message{Type: wire.TypeHeartbeat, NodeID: in.Peer, InFlight: k}))
		}
	}
	require.Len(t, seen, n)
	for i, c := range conns {
		for k := range 3 {
			m := recvConnWithin(t, c, 5*time.Second)
			require.Equal(t, peerID(i), m.NodeID)
			require.Equal(t, k, m.InFlight, "per-peer order is kept")
		}
	}
	require.Equal(t, n, l.Stats().Peers)
}

// testIdentityRouting: messages to A never reach B.
func testIdentityRouting(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	a := connect(t, h, l, "a/1/1", testDialerConfig)
	b := connect(t, h, l, "b/1/1", testDialerConfig)
	for i := range 10 {
		require.NoError(t, l.Send(t.Context(), "a/1/1", wire.Message{Type: wire.TypeHeartbeat, InFlight: i}))
	}
	for i := range 10 {
		require.Equal(t, i, recvConnWithin(t, a, 5*time.Second).InFlight)
	}
	requireNoMessage(t, b, 200*time.Millisecond)
}

// testDuplicateIdentity documents the hazard behind the "unique identity
// per connection" rule: zmq4 delivers to every connection with the
// identity, and the in-memory transport mirrors that.
func testDuplicateIdentity(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	c1 := connect(t, h, l, "dup/1/1", testDialerConfig)
	c2 := dialConn(t, h, l.Endpoint(), "dup/1/1", testDialerConfig)
	require.NoError(t, c2.Send(t.Context(), hello("dup/1/1")))
	recvListenerWithin(t, l, 5*time.Second)
	require.NoError(t, l.Send(t.Context(), "dup/1/1", wire.Message{Type: wire.TypeHeartbeat}))
	recvConnWithin(t, c1, 5*time.Second)
	recvConnWithin(t, c2, 5*time.Second)
}

// testStalledPeer: a connection that stops reading fills its queue
// (ErrQueueFull) and is then disconnected, while a healthy peer keeps
// receiving, delayed by at most about one write timeout.
func testStalledPeer(t *testing.T, h harness) {
	cfg := testListenerConfig
	cfg.QueueSize = 16
	l := h.listen(t, "", cfg)
	healthy := connect(t, h, l, "healthy/1/1", testDialerConfig)
	stalledCfg := testDialerConfig
	stalledCfg.RecvQueue = 1
	stalled := connect(t, h, l, "stalled/1/1", stalledCfg)

	checkStalledPeer(t, l, cfg, healthy, "stalled/1/1")

	// The stalled Conn learns that the node closed it once it reads again.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, err := stalled.Recv(ctx)
		if err != nil {
			require.ErrorIs(t, err, ErrConnLost)
			break
		}
	}
}

// checkStalledPeer floods the stalled peer with big dispatches while a
// healthy peer receives a heartbeat every 10 ms, and checks ErrQueueFull,
// then ErrUnknownPeer (the stalled connection was closed), and the healthy
// peer's latency.
func checkStalledPeer(t *testing.T, l testListener, cfg ListenerConfig, healthy Conn, stalled string) {
	t.Helper()
	bound := cfg.WriteTimeout + 700*time.Millisecond
	var (
		stop       = make(chan struct{})
		senderDone = make(chan struct{})
		recvDone   = make(chan struct{})
		sent       atomic.Int64
		received   int64
		maxDelay   time.Duration
		recvErr    error
	)
	go func() { // healthy sender; InFlight -1 marks the last heartbeat
		defer close(senderDone)
		for last := false; !last; {
			time.Sleep(10 * time.Millisecond)
			last = isDone(stop)
			now := time.Now()
			m := wire.Message{Type: wire.TypeHeartbeat, Deadline: &now}
			if last {
				m.InFlight = -1
			}
			switch err := l.Send(context.Background(), "healthy/1/1", m); {
			case err == nil:
				sent.Add(1)
			case last:
				last = false // retry the marker
			}
		}
	}()
	go func() { // healthy receiver
		defer close(recvDone)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), bound+time.Second)
			m, err := healthy.Recv(ctx)
			cancel()
			if err != nil {
				recvErr = fmt.Errorf("healthy peer after %d of %d heartbeats: %w", received, sent.Load(), err)
				return
			}
			received++
			maxDelay = max(maxDelay, time.Since(*m.Deadline))
			if m.InFlight == -1 {
				return
			}
		}
	}()

	// Encoded once: under -race, encoding 200 KiB per Send would be slower
	// than the write timeout and the queue would never fill.
	big, err := wire.Encode(bigDispatch(200 << 10))
	require.NoError(t, err)
	sawFull := false
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		err := l.sendFrame(t.Context(), stalled, big)
		if errors.Is(err, ErrQueueFull) {
			sawFull = true
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if errors.Is(err, ErrUnknownPeer) {
			break
		}
		require.NoError(t, err)
	}
	require.True(t, sawFull, "ErrQueueFull for the stalled peer")
	require.ErrorIs(t, l.sendFrame(t.Context(), stalled, big), ErrUnknownPeer, "stalled peer disconnected")
	time.Sleep(100 * time.Millisecond)
	close(stop)
	<-senderDone
	<-recvDone

	require.NoError(t, recvErr)
	require.Positive(t, received)
	require.Equal(t, sent.Load(), received, "every heartbeat reached the healthy peer")
	require.Less(t, maxDelay, bound, "healthy peer delayed by at most about one write timeout")
	st := l.Stats()
	require.Positive(t, st.DroppedQueueFull)
	require.Positive(t, st.SendErrors)
	require.Positive(t, st.KilledConns)
	t.Logf("healthy: %d heartbeats, max delay %v; stats %+v", received, maxDelay, st)
}

// testTooLarge: oversized messages are refused by Send on both sides, and
// oversized frames that arrive anyway are dropped and counted.
func testTooLarge(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	c := connect(t, h, l, "big/1/1", testDialerConfig)
	huge := bigDispatch(wire.MaxFrameBytes)
	require.ErrorIs(t, c.Send(t.Context(), huge), wire.ErrTooLarge)
	require.ErrorIs(t, l.Send(t.Context(), "big/1/1", huge), wire.ErrTooLarge)

	raw := []byte(strings.Repeat(" ", wire.MaxFrameBytes) + `{"v":1,"type":"heartbeat"}`)
	require.NoError(t, c.sendFrame(t.Context(), raw))
	require.NoError(t, c.Send(t.Context(), hello("big/1/1")))
	require.Equal(t, wire.TypeHello, recvListenerWithin(t, l, 5*time.Second).Msg.Type)
	require.Equal(t, uint64(1), l.Stats().DroppedTooLarge)

	require.NoError(t, l.sendFrame(t.Context(), "big/1/1", raw))
	require.NoError(t, l.Send(t.Context(), "big/1/1", wire.Message{Type: wire.TypeHeartbeat}))
	require.Equal(t, wire.TypeHeartbeat, recvConnWithin(t, c, 5*time.Second).Type)
	require.Equal(t, uint64(1), c.Stats().DroppedTooLarge)
}

var malformedFrames = []string{
	``,
	`not json`,
	`{"v":2,"type":"heartbeat"}`,
	`{"v":1,"type":"no_such_type"}`,
	`{"v":1,"type":"dispatch","run_id":"r"}`,
	`["v",1]`,
}

// testMalformed: malformed frames are dropped and counted in both
// directions; the next good message still arrives.
func testMalformed(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	c := connect(t, h, l, "bad/1/1", testDialerConfig)
	for _, f := range malformedFrames {
		require.NoError(t, c.sendFrame(t.Context(), []byte(f)))
		require.NoError(t, l.sendFrame(t.Context(), "bad/1/1", []byte(f)))
	}
	require.NoError(t, c.Send(t.Context(), wire.Message{Type: wire.TypeHeartbeat, InFlight: 1}))
	require.NoError(t, l.Send(t.Context(), "bad/1/1", wire.Message{Type: wire.TypeHeartbeat, Term: 1}))
	require.Equal(t, 1, recvListenerWithin(t, l, 5*time.Second).Msg.InFlight)
	require.Equal(t, uint64(1), recvConnWithin(t, c, 5*time.Second).Term)
	require.Equal(t, uint64(len(malformedFrames)), l.Stats().DroppedMalformed)
	require.Equal(t, uint64(len(malformedFrames)), c.Stats().DroppedMalformed)
}

// testCloseUnblocksRecv: Close and ctx unblock Recv on both sides; Close is
// idempotent; calls after Close return ErrClosed.
func testCloseUnblocksRecv(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	c := dialConn(t, h, l.Endpoint(), "close/1/1", testDialerConfig)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Recv(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = l.Recv(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	connErr := make(chan error, 1)
	go func() { _, err := c.Recv(context.Background()); connErr <- err }()
	listenErr := make(chan error, 1)
	go func() { _, err := l.Recv(context.Background()); listenErr <- err }()
	time.Sleep(20 * time.Millisecond) // let both block

	require.NoError(t, c.Close())
	require.ErrorIs(t, waitErr(t, connErr), ErrClosed)
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Send(t.Context(), hello("close/1/1")), ErrClosed)

	require.NoError(t, l.Close())
	require.ErrorIs(t, waitErr(t, listenErr), ErrClosed)
	require.NoError(t, l.Close())
	_, err = l.Recv(t.Context())
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, l.Send(t.Context(), "close/1/1", hello("x")), ErrClosed)
}

// testListenerRestart: a Conn to a closed listener reports ErrConnLost
// instead of messages and never reconnects; a new Conn to a listener
// restarted at the same endpoint works.
func testListenerRestart(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	ep := l.Endpoint()
	c := connect(t, h, l, "restart/1/1", testDialerConfig)
	require.NoError(t, l.Close())

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := c.Recv(ctx)
	require.ErrorIs(t, err, ErrConnLost)
	require.ErrorIs(t, c.Send(t.Context(), hello("restart/1/1")), ErrConnLost)

	l2 := h.listen(t, ep, testListenerConfig)
	require.Equal(t, ep, l2.Endpoint())
	requireNoMessageListener(t, l2, 200*time.Millisecond) // no silent reconnect of the old Conn
	require.NoError(t, c.Close())
	_, err = c.Recv(t.Context())
	require.ErrorIs(t, err, ErrClosed)

	c2 := connect(t, h, l2, "restart/1/2", testDialerConfig)
	require.NoError(t, l2.Send(t.Context(), "restart/1/2", wire.Message{Type: wire.TypeWelcome, Term: 2}))
	require.Equal(t, uint64(2), recvConnWithin(t, c2, 5*time.Second).Term)
}

func testUnknownPeer(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	require.ErrorIs(t, l.Send(t.Context(), "nobody/1/1", hello("x")), ErrUnknownPeer)
	// A connection that has not spoken yet is unknown too: peers speak first.
	c := dialConn(t, h, l.Endpoint(), "quiet/1/1", testDialerConfig)
	require.ErrorIs(t, l.Send(t.Context(), "quiet/1/1", hello("x")), ErrUnknownPeer)
	require.NoError(t, c.Send(t.Context(), hello("quiet/1/1")))
	recvListenerWithin(t, l, 5*time.Second)
	require.NoError(t, l.Send(t.Context(), "quiet/1/1", wire.Message{Type: wire.TypeHeartbeat}))
}

// testIdleExpiry: a silent peer's queue is dropped after IdleTimeout; it
// comes back when the peer speaks again. Driven by a fake clock.
func testIdleExpiry(t *testing.T, h harness) {
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg := testListenerConfig
	cfg.IdleTimeout = time.Minute
	cfg.Clock = clk
	l := h.listen(t, "", cfg)
	c := connect(t, h, l, "idle/1/1", testDialerConfig)
	require.NoError(t, l.Send(t.Context(), "idle/1/1", wire.Message{Type: wire.TypeHeartbeat}))
	recvConnWithin(t, c, 5*time.Second)

	require.Eventually(t, func() bool {
		clk.Advance(30 * time.Second)
		return errors.Is(l.Send(t.Context(), "idle/1/1", wire.Message{Type: wire.TypeHeartbeat}), ErrUnknownPeer)
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 0, l.Stats().Peers)

	require.NoError(t, c.Send(t.Context(), hello("idle/1/1")))
	recvListenerWithin(t, l, 5*time.Second)
	require.NoError(t, l.Send(t.Context(), "idle/1/1", wire.Message{Type: wire.TypeHeartbeat, Term: 9}))
	for {
		if m := recvConnWithin(t, c, 5*time.Second); m.Term == 9 {
			break
		}
	}
}

// testQueueFullAndOrder: sending faster than the writer drains hits the
// queue bound (each refusal counted); what was queued arrives in order.
func testQueueFullAndOrder(t *testing.T, h harness) {
	cfg := testListenerConfig
	cfg.QueueSize = 4
	cfg.WriteTimeout = 5 * time.Second
	l := h.listen(t, "", cfg)
	c := connect(t, h, l, "order/1/1", testDialerConfig)
	const n = 200
	full := 0
	var want []int
	for i := range n {
		err := l.Send(t.Context(), "order/1/1", wire.Message{Type: wire.TypeHeartbeat, InFlight: i})
		if errors.Is(err, ErrQueueFull) {
			full++
			continue
		}
		require.NoError(t, err)
		want = append(want, i)
	}
	for _, i := range want {
		require.Equal(t, i, recvConnWithin(t, c, 5*time.Second).InFlight)
	}
	require.Equal(t, uint64(full), l.Stats().DroppedQueueFull)
}

func testDialErrors(t *testing.T, h harness) {
	d := h.dialer(testDialerConfig)
	_, err := d.Dial(t.Context(), h.deadEndpoint(t), "x/1/1")
	require.Error(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = d.Dial(ctx, h.deadEndpoint(t), "x/1/1")
	require.Error(t, err)

	l := h.listen(t, "", testListenerConfig)
	_, err = d.Dial(t.Context(), l.Endpoint(), "")
	require.Error(t, err)
	_, err = d.Dial(t.Context(), l.Endpoint(), strings.Repeat("x", 256))
	require.Error(t, err)
}

// testConcurrentSendAndRecv: several goroutines send on one Conn and on
// the Listener at once (run with -race).
func testConcurrentSendAndRecv(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	c := connect(t, h, l, "conc/1/1", testDialerConfig)
	const senders, each = 4, 25
	errs := make(chan error, 2*senders)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				if err := c.Send(t.Context(), wire.Message{Type: wire.TypeHeartbeat, InFlight: s*each + i}); err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for i := range each {
				err := l.Send(t.Context(), "conc/1/1", wire.Message{Type: wire.TypeHeartbeat, InFlight: s*each + i})
				for errors.Is(err, ErrQueueFull) {
					time.Sleep(time.Millisecond)
					err = l.Send(t.Context(), "conc/1/1", wire.Message{Type: wire.TypeHeartbeat, InFlight: s*each + i})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	got := map[int]bool{}
	for range senders * each {
		got[recvListenerWithin(t, l, 5*time.Second).Msg.InFlight] = true
		got[-1-recvConnWithin(t, c, 5*time.Second).InFlight] = true
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, got, 2*senders*each)
}

// Helpers.

func peerID(i int) string { return "h/" + strconv.Itoa(i) + "/1" }

func hello(identity string) wire.Message {
	return wire.Message{Type: wire.TypeHello, Name: identity, Instance: "i-1", Methods: []string{"echo"}, Capacity: 4}
}

func bigDispatch(size int) wire.Message {
	return wire.Message{
		Type: wire.TypeDispatch, RunID: "big", Method: "echo", Term: 1, Attempt: 1,
		Params: json.RawMessage(strconv.Quote(strings.Repeat("x", size))),
	}
}

func dialConn(t *testing.T, h harness, endpoint, identity string, cfg DialerConfig) testConn {
	t.Helper()
	c, err := h.dialer(cfg).Dial(t.Context(), endpoint, identity)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c.(testConn)
}

// connect dials, says hello and waits until the listener has it, so the
// listener knows the peer.
func connect(t *testing.T, h harness, l Listener, identity string, cfg DialerConfig) testConn {
	t.Helper()
	c := dialConn(t, h, l.Endpoint(), identity, cfg)
	require.NoError(t, c.Send(t.Context(), hello(identity)))
	in := recvListenerWithin(t, l, 5*time.Second)
	require.Equal(t, identity, in.Peer)
	return c
}

func recvConnWithin(t *testing.T, c Conn, d time.Duration) wire.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	m, err := c.Recv(ctx)
	require.NoError(t, err)
	return m
}

func recvListenerWithin(t *testing.T, l Listener, d time.Duration) Inbound {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	in, err := l.Recv(ctx)
	require.NoError(t, err)
	return in
}

func requireNoMessage(t *testing.T, c Conn, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	m, err := c.Recv(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "unexpected message %+v", m)
}

func requireNoMessageListener(t *testing.T, l Listener, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	in, err := l.Recv(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "unexpected message %+v", in)
}

func waitErr(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Recv not unblocked")
		return nil
	}
}

// deadTCPEndpoint returns a loopback endpoint that was free a moment ago.
func deadTCPEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ep := "tcp://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	return ep
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
