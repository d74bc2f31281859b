package handlerclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/handlerclient"
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
