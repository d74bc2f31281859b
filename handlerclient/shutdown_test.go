package handlerclient_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

func TestClient_Shutdown(t *testing.T) {
	t.Parallel()
	t.Run("DrainsAndSaysGoodbye", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1, n2 := startNode(t, net, "n1"), startNode(t, net, "n2")
			n1.Lead(1)
			n1.AutoAck(true)
			n2.Follow("n1", n1.Endpoint(), 1)
			g := newGate()
			r := start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), n2.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("gate", g.fn)
			})
			p1 := registered(t, n1)
			registered(t, n2)
			dispatch(t, n1, p1, "r1", "gate", nil)
			g.waitStarted(t)

			r.cancel() // SIGTERM
			synctest.Wait()
			dispatch(t, n1, p1, "r2", "gate", nil)
			rej := next(t, n1, wire.TypeReject).Msg
			require.Equal(t, "r2", rej.RunID)
			require.Equal(t, handlerclient.ReasonShuttingDown, rej.Reason)
			none(t, n1, 10*time.Second, wire.TypeGoodbye) // still draining

			g.release <- struct{}{}
			require.True(t, next(t, n1, wire.TypeResult).Msg.OK)
			require.Equal(t, "shutdown", next(t, n1, wire.TypeGoodbye).Msg.Reason)
			next(t, n2, wire.TypeGoodbye)
			require.NoError(t, r.wait())
			require.Zero(t, g.executions("r2"))
		})
	})
	t.Run("DrainTimeoutCancelsJobs", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{DrainTimeout: 7 * time.Second})
			b.node.AutoAck(true)
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			b.gate.waitStarted(t)
			stopped := time.Now()
			b.r.cancel()
			require.ErrorIs(t, <-b.gate.causes, handlerclient.ErrShutdown)
			require.Equal(t, 7*time.Second, time.Since(stopped))
			res := next(t, b.node, wire.TypeResult).Msg
			require.False(t, res.OK)
			next(t, b.node, wire.TypeGoodbye)
			require.NoError(t, b.r.wait())
		})
	})
	t.Run("WaitsForAcks", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "echo", nil)
			next(t, b.node, wire.TypeResult)
			b.r.cancel()
			none(t, b.node, 2*time.Second, wire.TypeGoodbye)
			ack(t, b.node, b.peer, "r1", 1)
			next(t, b.node, wire.TypeGoodbye)
			require.NoError(t, b.r.wait())
		})
	})
	t.Run("FlushTimeout", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{FlushTimeout: 4 * time.Second})
			dispatch(t, b.node, b.peer, "r1", "echo", nil)
			next(t, b.node, wire.TypeResult)
			stopped := time.Now()
			b.r.cancel()
			next(t, b.node, wire.TypeGoodbye)
			require.NoError(t, b.r.wait())
			require.Equal(t, 4*time.Second, time.Since(stopped))
		})
	})
	t.Run("ErrAbandoned", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			stuck, release := make(chan struct{}), make(chan struct{})
			r := start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}, DrainTimeout: time.Second,
				FlushTimeout: time.Second}, func(c *handlerclient.Client) {
				c.Handle("stuck", func(context.Context, *handlerclient.Job) (any, error) {
					close(stuck)
					<-release // ignores its context
					return nil, nil
				})
			})
			dispatch(t, n1, registered(t, n1), "r1", "stuck", nil)
			<-stuck
			require.ErrorIs(t, r.stop(), handlerclient.ErrAbandoned)
			close(release) // let the abandoned goroutine end before the test does
		})
	})
	t.Run("ContextDoneBeforeConnecting", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			c, err := handlerclient.New(handlerclient.Config{Name: "h", Servers: []string{endpoint("nowhere")},
				Dialer: transport.NewInmemNetwork().Dialer(transport.DialerConfig{}), Logger: testLogger(t)})
			require.NoError(t, err)
			c.Handle("echo", echo)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			require.NoError(t, c.Run(ctx))
		})
	})
}
