package transport

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/wire"
)

// Batching (docs/protocol.md, "Batching"): negotiated through hello and
// welcome features, order-preserving, never used towards a peer that did
// not ask for it. The conformance cases run on every implementation; the
// raw-peer cases check the bytes on a real ZMQ connection.

func init() {
	conformanceExtra["Batching"] = testBatching
	conformanceExtra["BatchingDisabled"] = testBatchingDisabled
	conformanceExtra["BatchFromPeerWithoutNegotiation"] = testBatchFromPeer
}

// welcomeConn connects with cfg, exchanges hello and welcome and returns
// the conn, the hello as the listener saw it and the welcome as the conn
// saw it.
func welcomeConn(t *testing.T, h harness, l Listener, id string, cfg DialerConfig) (testConn, wire.Message, wire.Message) {
	t.Helper()
	c := dialConn(t, h, l.Endpoint(), id, cfg)
	require.NoError(t, c.Send(t.Context(), hello(id)))
	in := recvListenerWithin(t, l, 5*time.Second)
	require.NoError(t, l.Send(t.Context(), id, wire.Message{Type: wire.TypeWelcome, Term: 2, Features: []string{"ignored"}}))
	w := recvConnWithin(t, c, 5*time.Second)
	require.Equal(t, wire.TypeWelcome, w.Type)
	return c, in.Msg, w
}

// testBatching: features are exchanged; many messages in both directions
// arrive complete and in order, some of them in batch frames.
func testBatching(t *testing.T, h harness) {
	const n = 600
	lc, dc := testListenerConfig, testDialerConfig
	lc.QueueSize, lc.RecvQueue, dc.RecvQueue = n, n, n // the test reads only after sending
	l := h.listen(t, "", lc)
	c, hi, w := welcomeConn(t, h, l, "batch/1/1", dc)
	require.Equal(t, []string{wire.FeatureBatch}, hi.Features)
	require.Equal(t, []string{wire.FeatureBatch}, w.Features, "the listener echoes what it uses")

	ms := make([]wire.Message, n)
	for i := range ms {
		ms[i] = wire.Message{Type: wire.TypeAccepted, RunID: fmt.Sprintf("r-%d", i), Attempt: 1, Term: 2}
	}
	require.NoError(t, c.SendBatch(t.Context(), ms))
	for i := range n {
		require.Equal(t, fmt.Sprintf("r-%d", i), recvListenerWithin(t, l, 5*time.Second).Msg.RunID)
	}
	cs := c.Stats()
	require.Equal(t, uint64(n+1), cs.Sent)
	require.Positive(t, cs.SentBatches)
	require.Equal(t, uint64(n), cs.BatchedMessages, "everything queued goes in batches")

	for i := range n {
		require.NoError(t, l.Send(t.Context(), "batch/1/1", wire.Message{Type: wire.TypeCancel, RunID: fmt.Sprintf("c-%d", i)}))
	}
	for i := range n {
		require.Equal(t, fmt.Sprintf("c-%d", i), recvConnWithin(t, c, 5*time.Second).RunID)
	}
	require.Equal(t, uint64(n+1), c.Stats().Received)
	require.Eventually(t, func() bool { return l.Stats().Sent == n+1 }, 5*time.Second, time.Millisecond)
}

// testBatchingDisabled: a side that disables batching neither announces
// nor echoes the feature, and nothing is batched.
func testBatchingDisabled(t *testing.T, h harness) {
	for name, cfg := range map[string]struct {
		l ListenerConfig
		d DialerConfig
	}{
		"Listener": {l: ListenerConfig{DisableBatching: true}, d: DialerConfig{}},
		"Conn":     {l: ListenerConfig{}, d: DialerConfig{DisableBatching: true}},
	} {
		t.Run(name, func(t *testing.T) {
			lc, dc := cfg.l, cfg.d
			lc.WriteTimeout, lc.HandshakeTimeout = testListenerConfig.WriteTimeout, testListenerConfig.HandshakeTimeout
			dc.WriteTimeout, dc.HandshakeTimeout = testDialerConfig.WriteTimeout, testDialerConfig.HandshakeTimeout
			l := h.listen(t, "", lc)
			c, hi, w := welcomeConn(t, h, l, "nobatch/1/1", dc)
			require.Equal(t, !dc.DisableBatching, len(hi.Features) == 1)
			require.Empty(t, w.Features)
			ms := make([]wire.Message, 50)
			for i := range ms {
				ms[i] = wire.Message{Type: wire.TypeHeartbeat, InFlight: i + 1}
				require.NoError(t, l.Send(t.Context(), "nobatch/1/1", wire.Message{Type: wire.TypeHeartbeat, Term: uint64(i + 1)}))
			}
			require.NoError(t, c.SendBatch(t.Context(), ms))
			for i := range ms {
				require.Equal(t, i+1, recvListenerWithin(t, l, 5*time.Second).Msg.InFlight)
				require.Equal(t, uint64(i+1), recvConnWithin(t, c, 5*time.Second).Term)
			}
			require.Zero(t, c.Stats().SentBatches)
			require.Zero(t, l.Stats().SentBatches)
		})
	}
}

// testBatchFromPeer: receivers expand batch frames whether or not they
// negotiated batching; bad elements are dropped and counted.
func testBatchFromPeer(t *testing.T, h harness) {
	l := h.listen(t, "", testListenerConfig)
	c := connect(t, h, l, "raw/1/1", DialerConfig{DisableBatching: true})
	hb := mustEncode(t, wire.Message{Type: wire.TypeHeartbeat, InFlight: 7})
	frame := wire.AppendBatch(nil, hb, []byte(`{"v":1,"type":"nope"}`), hb)
	require.NoError(t, c.sendFrame(t.Context(), frame))
	require.NoError(t, l.sendFrame(t.Context(), "raw/1/1", frame))
	for range 2 {
		require.Equal(t, 7, recvListenerWithin(t, l, 5*time.Second).Msg.InFlight)
		require.Equal(t, wire.TypeHeartbeat, recvConnWithin(t, c, 5*time.Second).Type)
	}
	require.Equal(t, uint64(1), l.Stats().DroppedMalformed)
	require.Equal(t, uint64(1), c.Stats().DroppedMalformed)
}

// A protocol-v1 peer that does not announce batching (another language's
// handler) gets one message per frame, however much is queued.
func TestZMQListener_NoBatchesForV1Peer(t *testing.T) {
	t.Parallel()
	for name, features := range map[string][]string{"V1": nil, "Batch": {wire.FeatureBatch}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testListenerConfig
			cfg.QueueSize = 1024
			l := listenZMQ(t, cfg)
			raw, zc := rawPeer(t, l.Endpoint(), "v1/1/1")
			defer raw.Close()
			hi := hello("v1/1/1")
			hi.Features = features
			require.NoError(t, zc.SendMsg(zmq4.NewMsg(mustEncode(t, hi))))
			recvListenerWithin(t, l, 5*time.Second)
			const n = 300 // queued faster than the writer writes them
			for i := range n {
				require.NoError(t, l.Send(t.Context(), "v1/1/1", wire.Message{Type: wire.TypeHeartbeat, Term: uint64(i + 1)}))
			}
			require.NoError(t, raw.SetReadDeadline(time.Now().Add(10*time.Second)))
			frames, got := 0, 0
			for got < n {
				msg, err := zc.RecvMsg()
				require.NoError(t, err)
				require.Len(t, msg.Frames, 1)
				frames++
				if features == nil {
					m, err := wire.Decode(msg.Frames[0])
					require.NoError(t, err, "a plain v1 frame")
					require.Equal(t, uint64(got+1), m.Term)
					got++
					continue
				}
				msgs, _, err := wire.DecodeFrame(nil, msg.Frames[0])
				require.NoError(t, err)
				for _, m := range msgs {
					got++
					require.Equal(t, uint64(got), m.Term)
				}
			}
			if features != nil {
				require.Less(t, frames, n, "queued messages were batched")
			}
		})
	}
}
