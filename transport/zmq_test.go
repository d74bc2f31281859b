package transport

import (
	"context"
	"encoding/binary"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/go-zeromq/zmq4/security/null"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/wire"
)

// ZMQ-specific behaviour: the zmq4 sharp edges the guarded transport
// covers, checked with raw TCP and raw zmq4 peers.

func TestListenZMQ_Endpoint(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		l, err := ListenZMQ(t.Context(), "tcp://127.0.0.1:0", ListenerConfig{})
		require.NoError(t, err)
		defer l.Close()
		require.True(t, strings.HasPrefix(l.Endpoint(), "tcp://127.0.0.1:"))
		require.NotEqual(t, "tcp://127.0.0.1:0", l.Endpoint())

		_, err = ListenZMQ(t.Context(), l.Endpoint(), ListenerConfig{})
		require.Error(t, err, "address in use")
	})
	t.Run("ErrEndpoint", func(t *testing.T) {
		t.Parallel()
		for _, ep := range []string{"ipc:///tmp/x", "tcp://127.0.0.1", "127.0.0.1:0", ""} {
			_, err := ListenZMQ(t.Context(), ep, ListenerConfig{})
			require.Error(t, err, ep)
			_, err = ZMQDialer{}.Dial(t.Context(), ep, "x/1/1")
			require.Error(t, err, ep)
		}
	})
	t.Run("ErrConfig", func(t *testing.T) {
		t.Parallel()
		_, err := ListenZMQ(t.Context(), "tcp://127.0.0.1:0", ListenerConfig{QueueSize: -1})
		require.Error(t, err)
	})
}

// A TCP client that connects and never speaks must not keep handlers from
// connecting: without the handshake deadline zmq4's single accept goroutine
// waits for its greeting for ever.
func TestZMQListener_SilentTCPClient(t *testing.T) {
	t.Parallel()
	cfg := testListenerConfig
	cfg.HandshakeTimeout = 300 * time.Millisecond
	l := listenZMQ(t, cfg)
	raw, err := net.Dial("tcp", strings.TrimPrefix(l.Endpoint(), "tcp://"))
	require.NoError(t, err)
	defer raw.Close()
	time.Sleep(50 * time.Millisecond) // accepted first

	start := time.Now()
	c := dialZMQ(t, l.Endpoint(), "late/1/1", testDialerConfig)
	require.NoError(t, c.Send(t.Context(), hello("late/1/1")))
	require.Equal(t, "late/1/1", recvListenerWithin(t, l, 5*time.Second).Peer)
	require.Less(t, time.Since(start), 3*time.Second)
	require.Eventually(t, func() bool { return l.Stats().KilledConns == 1 }, 5*time.Second, 10*time.Millisecond)
}

// zmq4 leaves a connection open when it rejects the handshake (here: a PUB
// socket connecting to the ROUTER); the guard closes it.
func TestZMQListener_RejectedHandshake(t *testing.T) {
	t.Parallel()
	cfg := testListenerConfig
	cfg.HandshakeTimeout = 300 * time.Millisecond
	l := listenZMQ(t, cfg)
	raw, err := net.Dial("tcp", strings.TrimPrefix(l.Endpoint(), "tcp://"))
	require.NoError(t, err)
	defer raw.Close()
	_, err = zmq4.Open(raw, null.Security(), zmq4.Pub, nil, false, nil)
	require.Error(t, err, "PUB is not compatible with ROUTER")
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = raw.Read(make([]byte, 1))
	require.Error(t, err)
	require.NotErrorIs(t, err, os.ErrDeadlineExceeded, "the node closed the connection")
	require.Equal(t, uint64(1), l.Stats().KilledConns)
}

// A peer that completes the ZMTP handshake and then never reads again (a
// raw connection, so nothing buffers on its side).
func TestZMQListener_RawStalledPeer(t *testing.T) {
	t.Parallel()
	cfg := testListenerConfig
	cfg.QueueSize = 16
	l := listenZMQ(t, cfg)
	healthy := dialZMQ(t, l.Endpoint(), "healthy/1/1", testDialerConfig)
	require.NoError(t, healthy.Send(t.Context(), hello("healthy/1/1")))
	recvListenerWithin(t, l, 5*time.Second)

	raw, zc := rawPeer(t, l.Endpoint(), "stalled/raw/1")
	defer raw.Close()
	require.NoError(t, zc.SendMsg(zmq4.NewMsg(mustEncode(t, hello("stalled/raw/1")))))
	require.Equal(t, "stalled/raw/1", recvListenerWithin(t, l, 5*time.Second).Peer)

	checkStalledPeer(t, l, cfg, healthy, "stalled/raw/1")
}

// A frame header announcing 4 GiB closes the connection before zmq4
// allocates anything; other peers are unaffected.
func TestZMQListener_HugeFrameHeader(t *testing.T) {
	t.Parallel()
	l := listenZMQ(t, testListenerConfig)
	raw, zc := rawPeer(t, l.Endpoint(), "evil/1/1")
	defer raw.Close()
	require.NoError(t, zc.SendMsg(zmq4.NewMsg(mustEncode(t, hello("evil/1/1")))))
	recvListenerWithin(t, l, 5*time.Second)

	hdr := []byte{zmtpFlagLong, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(hdr[1:], 1<<32)
	_, err := raw.Write(hdr)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s := l.Stats()
		return s.KilledConns == 1 && s.DroppedTooLarge == 1
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, raw.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = raw.Read(make([]byte, 1))
	require.Error(t, err, "the node closed the connection")

	c := connect(t, zmqHarness(), l, "good/1/1", testDialerConfig)
	require.NoError(t, l.Send(t.Context(), "good/1/1", wire.Message{Type: wire.TypeHeartbeat}))
	recvConnWithin(t, c, 5*time.Second)
}

// Peers using REQ-style framing put an empty delimiter frame first; both
// sides skip it. Any other multi-frame layout is malformed.
func TestZMQ_EmptyDelimiter(t *testing.T) {
	t.Parallel()
	t.Run("ToListener", func(t *testing.T) {
		t.Parallel()
		l := listenZMQ(t, testListenerConfig)
		d := zmq4.NewDealer(context.Background(), zmq4.WithID(zmq4.SocketIdentity("delim/1/1")), zmq4.WithLogger(log.New(io.Discard, "", 0)))
		defer d.Close()
		require.NoError(t, d.Dial(l.Endpoint()))
		require.NoError(t, d.Send(zmq4.NewMsgFrom([]byte("a"), []byte("b"))))
		require.NoError(t, d.Send(zmq4.NewMsgFrom(nil, mustEncode(t, hello("delim/1/1")))))
		in := recvListenerWithin(t, l, 5*time.Second)
		require.Equal(t, "delim/1/1", in.Peer)
		require.Equal(t, wire.TypeHello, in.Msg.Type)
		require.Equal(t, uint64(1), l.Stats().DroppedMalformed)
	})
	t.Run("ToConn", func(t *testing.T) {
		t.Parallel()
		r := zmq4.NewRouter(context.Background(), zmq4.WithLogger(log.New(io.Discard, "", 0)))
		defer r.Close()
		require.NoError(t, r.Listen("tcp://127.0.0.1:0"))
		c := dialZMQ(t, "tcp://"+r.Addr().String(), "delim/1/2", testDialerConfig)
		require.NoError(t, c.Send(t.Context(), hello("delim/1/2")))
		msg, err := r.Recv()
		require.NoError(t, err)
		require.Equal(t, "delim/1/2", string(msg.Frames[0]))
		id := msg.Frames[0]
		require.NoError(t, r.Send(zmq4.NewMsgFrom(id, []byte("a"), []byte("b"))))
		require.NoError(t, r.Send(zmq4.NewMsgFrom(id, nil, mustEncode(t, wire.Message{Type: wire.TypeHeartbeat, Term: 3}))))
		require.Equal(t, uint64(3), recvConnWithin(t, c, 5*time.Second).Term)
		require.Equal(t, uint64(1), c.Stats().DroppedMalformed)
	})
}

// Dialling a node that accepts TCP but never speaks (SIGSTOPped: the
// kernel still completes the TCP handshake) ends at the handshake timeout
// or at ctx, whichever is first.
func TestZMQDialer_StoppedNode(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	held := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- c
		}
	}()
	defer func() {
		ln.Close()
		for c := range held {
			c.Close()
		}
	}()
	ep := "tcp://" + ln.Addr().String()

	t.Run("HandshakeTimeout", func(t *testing.T) {
		start := time.Now()
		_, err := ZMQDialer{Config: DialerConfig{HandshakeTimeout: 300 * time.Millisecond}}.Dial(t.Context(), ep, "x/1/1")
		require.Error(t, err)
		require.Less(t, time.Since(start), 3*time.Second)
	})
	t.Run("Context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := ZMQDialer{Config: DialerConfig{HandshakeTimeout: time.Minute}}.Dial(ctx, ep, "x/1/2")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 3*time.Second)
	})
}

// A node that completes the handshake and stops reading: the Conn's write
// deadline closes the connection and Send reports ErrConnLost instead of
// blocking for ever.
func TestZMQConn_WriteTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		if _, err := zmq4.Open(c, null.Security(), zmq4.Router, zmq4.SocketIdentity("node"), true, nil); err != nil {
			c.Close()
			close(accepted)
			return
		}
		accepted <- c
	}()
	c := dialZMQ(t, "tcp://"+ln.Addr().String(), "w/1/1", testDialerConfig)
	node := <-accepted
	require.NotNil(t, node)
	defer node.Close()

	big := bigDispatch(200 << 10)
	start := time.Now()
	for {
		err := c.Send(t.Context(), big)
		if err != nil {
			require.ErrorIs(t, err, ErrConnLost)
			break
		}
		require.Less(t, time.Since(start), 10*time.Second)
	}
	// zmq4's DEALER Send gives up at WithTimeout while its write goroutine
	// carries on; the guard's write deadline then closes the connection.
	require.Eventually(t, func() bool { return c.Stats().KilledConns == 1 }, 5*time.Second, 10*time.Millisecond)
	_, err = c.Recv(t.Context())
	require.ErrorIs(t, err, ErrConnLost)
}

// Helpers.

func zmqHarness() harness { return harnesses()[0] }

func listenZMQ(t *testing.T, cfg ListenerConfig) testListener {
	t.Helper()
	return zmqHarness().listen(t, "", cfg)
}

func dialZMQ(t *testing.T, endpoint, identity string, cfg DialerConfig) testConn {
	t.Helper()
	return dialConn(t, zmqHarness(), endpoint, identity, cfg)
}

// rawPeer opens a TCP connection and completes the ZMTP handshake as a
// DEALER with identity, returning both layers; nothing reads from it
// unless the test does.
func rawPeer(t *testing.T, endpoint, identity string) (net.Conn, *zmq4.Conn) {
	t.Helper()
	raw, err := net.Dial("tcp", strings.TrimPrefix(endpoint, "tcp://"))
	require.NoError(t, err)
	zc, err := zmq4.Open(raw, null.Security(), zmq4.Dealer, zmq4.SocketIdentity(identity), false, nil)
	require.NoError(t, err)
	return raw, zc
}

func mustEncode(t *testing.T, m wire.Message) []byte {
	t.Helper()
	b, err := wire.Encode(m)
	require.NoError(t, err)
	return b
}
