package transport

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/wire"
)

// In-memory specifics: the fault hooks.

type inmemBundle struct {
	net *InmemNetwork
	l   *InmemListener
	c   Conn
}

func setupInmem(t *testing.T, cfg ListenerConfig, identity string) inmemBundle {
	t.Helper()
	n := NewInmemNetwork()
	l, err := n.Listen("inmem://node", cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	c, err := n.Dialer(testDialerConfig).Dial(t.Context(), "inmem://node", identity)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	require.NoError(t, c.Send(t.Context(), hello(identity)))
	recvListenerWithin(t, l, time.Second)
	return inmemBundle{net: n, l: l, c: c}
}

func TestInmemNetwork_Listen(t *testing.T) {
	t.Parallel()
	n := NewInmemNetwork()
	l, err := n.Listen("inmem://a", ListenerConfig{})
	require.NoError(t, err)
	_, err = n.Listen("inmem://a", ListenerConfig{})
	require.Error(t, err, "address in use")
	_, err = n.Listen("", ListenerConfig{})
	require.Error(t, err)
	require.NoError(t, l.Close())
	l, err = n.Listen("inmem://a", ListenerConfig{})
	require.NoError(t, err, "free again after Close")
	require.NoError(t, l.Close())
	_, err = n.Dialer(DialerConfig{}).Dial(t.Context(), "inmem://a", "x/1/1")
	require.ErrorIs(t, err, ErrNoListener)
}

func TestInmemNetwork_Partition(t *testing.T) {
	t.Parallel()
	for name, identity := range map[string]string{"OnePeer": "p/1/1", "AllPeers": ""} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setupInmem(t, testListenerConfig, "p/1/1")
			b.net.Partition("inmem://node", identity, true)

			require.NoError(t, b.c.Send(t.Context(), wire.Message{Type: wire.TypeHeartbeat}), "a partition is silent")
			require.NoError(t, b.l.Send(t.Context(), "p/1/1", wire.Message{Type: wire.TypeHeartbeat}))
			requireNoMessageListener(t, b.l, 100*time.Millisecond)
			requireNoMessage(t, b.c, 100*time.Millisecond)
			_, err := b.net.Dialer(testDialerConfig).Dial(t.Context(), "inmem://node", "p/1/1")
			require.ErrorIs(t, err, ErrNoListener)

			b.net.Partition("inmem://node", identity, false)
			require.NoError(t, b.c.Send(t.Context(), wire.Message{Type: wire.TypeHeartbeat, InFlight: 7}))
			require.Equal(t, 7, recvListenerWithin(t, b.l, time.Second).Msg.InFlight)
			require.NoError(t, b.l.Send(t.Context(), "p/1/1", wire.Message{Type: wire.TypeHeartbeat, Term: 7}))
			require.Equal(t, uint64(7), recvConnWithin(t, b.c, time.Second).Term)
		})
	}
}

func TestInmemNetwork_Pause(t *testing.T) {
	t.Parallel()
	t.Run("Resume", func(t *testing.T) {
		t.Parallel()
		cfg := testListenerConfig
		cfg.QueueSize = 4
		cfg.WriteTimeout = time.Minute
		b := setupInmem(t, cfg, "p/1/1")
		b.net.Pause("p/1/1", true)
		queued := 0
		require.Eventually(t, func() bool {
			err := b.l.Send(t.Context(), "p/1/1", wire.Message{Type: wire.TypeHeartbeat, InFlight: queued})
			if errors.Is(err, ErrQueueFull) {
				return true
			}
			require.NoError(t, err)
			queued++
			return false
		}, 5*time.Second, time.Millisecond)
		requireNoMessage(t, b.c, 50*time.Millisecond)

		b.net.Pause("p/1/1", false)
		for i := range queued {
			require.Equal(t, i, recvConnWithin(t, b.c, time.Second).InFlight)
		}
	})
	t.Run("WriteTimeout", func(t *testing.T) {
		t.Parallel()
		b := setupInmem(t, testListenerConfig, "p/1/2")
		b.net.Pause("p/1/2", true)
		require.NoError(t, b.l.Send(t.Context(), "p/1/2", wire.Message{Type: wire.TypeHeartbeat}))
		require.Eventually(t, func() bool {
			return errors.Is(b.l.Send(t.Context(), "p/1/2", wire.Message{Type: wire.TypeHeartbeat}), ErrUnknownPeer)
		}, 5*time.Second, 10*time.Millisecond)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := b.c.Recv(ctx)
		require.ErrorIs(t, err, ErrConnLost)
		require.Equal(t, uint64(1), b.l.Stats().KilledConns)
	})
}
