package handlerclient_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/handlerclient/handlerclienttest"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

// rawNode is a bare zmq4 ROUTER acting as a node, to prove the SDK works
// on the real socket through transport.ZMQDialer (the default Dialer).
type rawNode struct {
	t    *testing.T
	sock zmq4.Socket
	in   chan zmq4.Msg
}

func newRawNode(t *testing.T) *rawNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := &rawNode{t: t, sock: zmq4.NewRouter(ctx), in: make(chan zmq4.Msg, 100)}
	require.NoError(t, n.sock.Listen("tcp://127.0.0.1:0"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			msg, err := n.sock.Recv()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				continue // a handler connection ended (zmq4 reports EOF)
			}
			select {
			case n.in <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = n.sock.Close()
		<-done
	})
	return n
}

func (n *rawNode) endpoint() string { return "tcp://" + n.sock.Addr().String() }

// next returns the next message of type typ and the sender's identity.
func (n *rawNode) next(typ wire.Type) ([]byte, wire.Message) {
	n.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case msg := <-n.in:
			require.Len(n.t, msg.Frames, 2, "identity and one payload frame")
			m, err := wire.Decode(msg.Frames[1])
			require.NoError(n.t, err)
			if m.Type == typ {
				return msg.Frames[0], m
			}
		case <-timeout:
			n.t.Fatalf("no %s within 30s", typ)
		}
	}
}

func (n *rawNode) send(peer []byte, m wire.Message) {
	n.t.Helper()
	frame, err := wire.Encode(m)
	require.NoError(n.t, err)
	require.NoError(n.t, n.sock.Send(zmq4.NewMsgFrom(peer, frame)))
}

func TestClient_ZMQ(t *testing.T) {
	t.Parallel()
	node := newRawNode(t)
	c, err := handlerclient.New(handlerclient.Config{Name: "zh", Servers: []string{node.endpoint()},
		Instance: "zmq", Logger: testLogger(t)})
	require.NoError(t, err)
	c.Handle("echo", echo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()

	peer, hello := node.next(wire.TypeHello)
	require.Equal(t, "zh", hello.Name)
	requireIdentity(t, string(peer), "zh", "zmq")
	node.send(peer, wire.Message{Type: wire.TypeWelcome, NodeID: "n1", Term: 4, HeartbeatMS: 1000, Liveness: 3})
	node.send(peer, wire.Message{Type: wire.TypeDispatch, RunID: "r1", ScheduleID: "s1", Method: "echo",
		Params: []byte(`{"x":[1,2]}`), Attempt: 1, Term: 4})
	_, acc := node.next(wire.TypeAccepted)
	require.Equal(t, "r1", acc.RunID)
	_, res := node.next(wire.TypeResult)
	require.True(t, res.OK)
	require.JSONEq(t, `{"x":[1,2]}`, string(res.Result))
	node.send(peer, wire.Message{Type: wire.TypeResultAck, RunID: "r1", Attempt: 1})
	hbPeer, _ := node.next(wire.TypeHeartbeat) // the leader link's heartbeat, after one interval
	require.Equal(t, peer, hbPeer)

	cancel()
	_, bye := node.next(wire.TypeGoodbye)
	require.Equal(t, "shutdown", bye.Reason)
	require.NoError(t, <-errc)
}

// TestClient_LeaderSearchZMQ measures failover on real sockets: the leader
// node's process dies (its listener closes, as kill -9 closes its TCP
// connections), the election takes a while, and the time from the new
// leader's election to its welcome of the handler is logged and bounded.
// With the default profile (1 s heartbeats) the handler used to find the
// new leader only at its next heartbeat tick, up to 1 s later.
func TestClient_LeaderSearchZMQ(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		heartbeatMS int
		election    time.Duration
	}{
		"DefaultProfile": {heartbeatMS: 1000, election: 700 * time.Millisecond},
		"FastProfile":    {heartbeatMS: 100, election: 150 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var nodes []*handlerclienttest.Node
			var eps []string
			for i := range 3 {
				ln, err := transport.ListenZMQ(t.Context(), "tcp://127.0.0.1:0", transport.ListenerConfig{})
				require.NoError(t, err)
				n := handlerclienttest.NewNode(fmt.Sprintf("n%d", i+1), ln)
				t.Cleanup(n.Close)
				n.SetTiming(tc.heartbeatMS, 3)
				nodes, eps = append(nodes, n), append(eps, ln.Endpoint())
			}
			nodes[0].Lead(1)
			nodes[1].Follow("n1", eps[0], 1)
			nodes[2].Follow("n1", eps[0], 1)
			c, err := handlerclient.New(handlerclient.Config{Name: "h", Servers: eps, Logger: testLogger(t)})
			require.NoError(t, err)
			c.Handle("echo", echo)
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- c.Run(ctx) }()
			defer func() {
				cancel()
				require.NoError(t, <-errc)
			}()
			waitWelcomes(t, nodes[0], 0)

			// Two failovers: n1 dies and n2 is elected, then n2 dies and n3.
			for round, term := range []uint64{2, 3} {
				old, next, other := nodes[round], nodes[round+1], nodes[(round+2)%3]
				time.Sleep(time.Duration(tc.heartbeatMS) * time.Millisecond * 4 / 10) // mid-interval
				next.Follow("", "", term-1)
				other.Follow("", "", term-1)
				old.Close() // kill -9
				died := time.Now()
				time.Sleep(tc.election)
				before := next.Welcomes("h")
				next.Lead(term)
				elected := time.Now()
				waitWelcomes(t, next, before)
				took := time.Since(elected)
				t.Logf("round %d: handler welcomed by the new leader %v after its election (%v after the old leader died)",
					round+1, took.Round(time.Millisecond), time.Since(died).Round(time.Millisecond))
				require.Less(t, took, 300*time.Millisecond)
			}
		})
	}
}

// waitWelcomes waits until n has welcomed handler "h" more than before
// times.
func waitWelcomes(t *testing.T, n *handlerclienttest.Node, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.Welcomes("h") <= before {
		require.True(t, time.Now().Before(deadline), "no welcome from %s", n.ID())
		time.Sleep(time.Millisecond)
	}
}
