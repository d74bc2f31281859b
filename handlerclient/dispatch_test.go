package handlerclient_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/handlerclient/handlerclienttest"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

// leaderBundle is one leading node (term 1) and a client registered with
// it; peer is the client's identity at the node.
type leaderBundle struct {
	net  *transport.InmemNetwork
	node *handlerclienttest.Node
	r    *runner
	peer string
	gate *gate
}

// setupLeader runs a client with the methods echo, gate and fail against
// one leading node.
func setupLeader(t *testing.T, cfg handlerclient.Config) *leaderBundle {
	t.Helper()
	b := &leaderBundle{net: transport.NewInmemNetwork(), gate: newGate()}
	b.node = startNode(t, b.net, "n1")
	b.node.Lead(1)
	cfg.Servers = []string{b.node.Endpoint()}
	b.r = start(t, b.net, cfg, func(c *handlerclient.Client) {
		c.Handle("echo", echo)
		c.Handle("gate", b.gate.fn)
		c.Handle("fail", func(context.Context, *handlerclient.Job) (any, error) { return nil, errors.New("boom") })
	})
	b.peer = registered(t, b.node)
	return b
}

func TestClient_Dispatch(t *testing.T) {
	t.Parallel()
	t.Run("AcceptedResultAck", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatched := time.Now()
			dispatch(t, b.node, b.peer, "r1", "echo", map[string]int{"a": 1}, withAttempt(2))
			acc := next(t, b.node, wire.TypeAccepted).Msg
			require.Equal(t, wire.Message{V: wire.Version, Type: wire.TypeAccepted, RunID: "r1", Attempt: 2, Term: 1}, acc)
			res := next(t, b.node, wire.TypeResult).Msg
			require.Equal(t, "r1", res.RunID)
			require.Equal(t, 2, res.Attempt)
			require.Equal(t, uint64(1), res.Term)
			require.True(t, res.OK)
			require.JSONEq(t, `{"a":1}`, string(res.Result))
			require.Equal(t, dispatched.UTC(), *res.StartedAt)
			require.Equal(t, dispatched.UTC(), *res.FinishedAt)
			ack(t, b.node, b.peer, "r1", 2)
			none(t, b.node, 20*time.Second, wire.TypeResult)
		})
	})
	t.Run("ResultResentUntilAcked", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "echo", "x")
			next(t, b.node, wire.TypeResult)
			first := time.Now()
			next(t, b.node, wire.TypeResult)
			require.GreaterOrEqual(t, time.Since(first), 3*time.Second, "re-sent every three heartbeats")
			next(t, b.node, wire.TypeResult)
			ack(t, b.node, b.peer, "r1", 1)
			none(t, b.node, 20*time.Second, wire.TypeResult)
		})
	})
	t.Run("FailedResult", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "fail", nil)
			res := next(t, b.node, wire.TypeResult).Msg
			require.False(t, res.OK)
			require.Equal(t, "boom", res.Error)
			require.Empty(t, res.Result)
		})
	})
	t.Run("UnknownMethod", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "nope", nil)
			rej := next(t, b.node, wire.TypeReject, wire.TypeAccepted).Msg
			require.Equal(t, wire.TypeReject, rej.Type)
			require.Equal(t, handlerclient.ReasonUnknownMethod, rej.Reason)
			require.Equal(t, "r1", rej.RunID)
			require.Equal(t, 1, rej.Attempt)
		})
	})
	t.Run("StaleTermRejected", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "echo", nil, withTerm(5))
			next(t, b.node, wire.TypeAccepted)
			dispatch(t, b.node, b.peer, "r2", "echo", nil, withTerm(4))
			rej := next(t, b.node, wire.TypeReject, wire.TypeAccepted).Msg
			require.Equal(t, wire.TypeReject, rej.Type)
			require.Equal(t, handlerclient.ReasonStaleTerm, rej.Reason)
			require.Equal(t, "r2", rej.RunID)
			require.Equal(t, uint64(4), rej.Term)
		})
	})
	t.Run("StaleTermFromWelcome", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1, n2 := startNode(t, net, "n1"), startNode(t, net, "n2")
			n1.Lead(1) // a deposed leader that has not noticed yet
			n2.Lead(2)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), n2.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("echo", echo)
			})
			p1 := registered(t, n1)
			registered(t, n2)
			next(t, n1, wire.TypeHello) // asked again: by then the client has seen term 2
			dispatch(t, n1, p1, "r1", "echo", nil)
			rej := next(t, n1, wire.TypeReject, wire.TypeAccepted).Msg
			require.Equal(t, handlerclient.ReasonStaleTerm, rej.Reason)
		})
	})
	t.Run("OverCapacity", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{Capacity: 2})
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			dispatch(t, b.node, b.peer, "r2", "gate", nil)
			next(t, b.node, wire.TypeAccepted)
			next(t, b.node, wire.TypeAccepted)
			b.gate.waitStarted(t)
			b.gate.waitStarted(t)
			dispatch(t, b.node, b.peer, "r3", "gate", nil)
			rej := next(t, b.node, wire.TypeReject, wire.TypeAccepted).Msg
			require.Equal(t, wire.TypeReject, rej.Type)
			require.Equal(t, handlerclient.ReasonOverCapacity, rej.Reason)
			require.Equal(t, "r3", rej.RunID)

			b.gate.release <- struct{}{}
			next(t, b.node, wire.TypeResult)
			dispatch(t, b.node, b.peer, "r4", "gate", nil)
			require.Equal(t, "r4", next(t, b.node, wire.TypeAccepted, wire.TypeReject).Msg.RunID)
			b.gate.release <- struct{}{}
			b.gate.release <- struct{}{}
			synctest.Wait()
			require.Equal(t, 2, b.gate.max())
			require.Zero(t, b.gate.executions("r3"))
		})
	})
	t.Run("BeforeRunFuncBeforeAccepted", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			entered, proceed := make(chan *handlerclient.Job), make(chan error)
			b := setupLeader(t, handlerclient.Config{BeforeRunFunc: func(j *handlerclient.Job) error {
				entered <- j
				return <-proceed
			}})
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			j := <-entered
			require.Equal(t, "r1", j.RunID)
			require.Equal(t, time.Now(), j.ReceivedAt)
			none(t, b.node, 5*time.Second, wire.TypeAccepted)
			dispatch(t, b.node, b.peer, "r1", "gate", nil) // duplicate while the hook runs: answered once accepted
			synctest.Wait()
			require.Zero(t, b.gate.executions("r1"))
			proceed <- nil
			require.Equal(t, "r1", next(t, b.node, wire.TypeAccepted).Msg.RunID)
			b.gate.waitStarted(t)

			// A failing hook rejects the job, and a re-delivery tries again.
			dispatch(t, b.node, b.peer, "r2", "gate", nil)
			<-entered
			proceed <- errors.New("disk full")
			rej := next(t, b.node, wire.TypeReject, wire.TypeAccepted).Msg
			require.Equal(t, wire.Message{V: wire.Version, Type: wire.TypeReject, RunID: "r2", Attempt: 1, Term: 1,
				Reason: handlerclient.ReasonBeforeRunFailed}, rej)
			dispatch(t, b.node, b.peer, "r2", "gate", nil)
			<-entered
			proceed <- nil
			require.Equal(t, "r2", next(t, b.node, wire.TypeAccepted).Msg.RunID)
			b.gate.waitStarted(t)
			require.Equal(t, 1, b.gate.executions("r2"))
			b.gate.release <- struct{}{}
			b.gate.release <- struct{}{}
		})
	})
	t.Run("PanicFailsRun", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("panic", func(context.Context, *handlerclient.Job) (any, error) { panic("oops") })
			})
			dispatch(t, n1, registered(t, n1), "r1", "panic", nil)
			res := next(t, n1, wire.TypeResult).Msg
			require.False(t, res.OK)
			require.Equal(t, "panic: oops", res.Error)
		})
	})
	t.Run("ResultTooLarge", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("big", func(context.Context, *handlerclient.Job) (any, error) {
					return strings.Repeat("x", wire.MaxFrameBytes), nil
				})
				c.Handle("unencodable", func(context.Context, *handlerclient.Job) (any, error) { return func() {}, nil })
			})
			peer := registered(t, n1)
			dispatch(t, n1, peer, "r1", "big", nil)
			res := next(t, n1, wire.TypeResult).Msg
			require.False(t, res.OK)
			require.Contains(t, res.Error, "result too large")
			dispatch(t, n1, peer, "r2", "unencodable", nil)
			res = next(t, n1, wire.TypeResult).Msg
			require.False(t, res.OK)
			require.Contains(t, res.Error, "encode result")
		})
	})
	t.Run("BindParams", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("add", func(_ context.Context, j *handlerclient.Job) (any, error) {
					var p struct{ A, B int }
					if err := j.Bind(&p); err != nil {
						return nil, err
					}
					return p.A + p.B, nil
				})
			})
			peer := registered(t, n1)
			dispatch(t, n1, peer, "r1", "add", map[string]int{"a": 2, "b": 3})
			require.JSONEq(t, "5", string(next(t, n1, wire.TypeResult).Msg.Result))
			dispatch(t, n1, peer, "r2", "add", "not an object")
			res := next(t, n1, wire.TypeResult).Msg
			require.False(t, res.OK)
			require.Contains(t, res.Error, handlerclient.ErrBadParams.Error())
		})
	})
}

func TestClient_Dedupe(t *testing.T) {
	t.Parallel()
	t.Run("WhileRunning", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			next(t, b.node, wire.TypeAccepted)
			b.gate.waitStarted(t)
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			require.Equal(t, "r1", next(t, b.node, wire.TypeAccepted).Msg.RunID)
			b.gate.release <- struct{}{}
			require.True(t, next(t, b.node, wire.TypeResult).Msg.OK)
			require.Equal(t, 1, b.gate.executions("r1"))
		})
	})
	t.Run("AfterFinishedResendsResult", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			b.gate.release <- struct{}{}
			next(t, b.node, wire.TypeResult)
			at := time.Now()
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			next(t, b.node, wire.TypeAccepted)
			res := next(t, b.node, wire.TypeResult).Msg
			require.Equal(t, at, time.Now(), "re-sent at once, not on the next round")
			require.Equal(t, "r1", res.RunID)
			require.Equal(t, 1, b.gate.executions("r1"))
		})
	})
	t.Run("AfterAck", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			b.gate.release <- struct{}{}
			next(t, b.node, wire.TypeResult)
			ack(t, b.node, b.peer, "r1", 1)
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			require.Equal(t, "r1", next(t, b.node, wire.TypeAccepted).Msg.RunID)
			none(t, b.node, 10*time.Second, wire.TypeResult)
			require.Equal(t, 1, b.gate.executions("r1"))
		})
	})
	t.Run("RetryAfterAckRunsAgain", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "fail", nil)
			require.False(t, next(t, b.node, wire.TypeResult).Msg.OK)
			ack(t, b.node, b.peer, "r1", 1)
			dispatch(t, b.node, b.peer, "r1", "echo", "again", withAttempt(2))
			res := next(t, b.node, wire.TypeResult).Msg
			require.True(t, res.OK)
			require.Equal(t, 2, res.Attempt)
		})
	})
	t.Run("NewerAttemptTakesOver", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			next(t, b.node, wire.TypeAccepted)
			b.gate.waitStarted(t)
			dispatch(t, b.node, b.peer, "r1", "gate", nil, withAttempt(2), withTerm(2))
			acc := next(t, b.node, wire.TypeAccepted).Msg
			require.Equal(t, 2, acc.Attempt)
			require.Equal(t, uint64(2), acc.Term)
			dispatch(t, b.node, b.peer, "r1", "gate", nil, withAttempt(1), withTerm(2))
			rej := next(t, b.node, wire.TypeReject, wire.TypeAccepted).Msg
			require.Equal(t, handlerclient.ReasonStaleAttempt, rej.Reason)
			b.gate.release <- struct{}{}
			res := next(t, b.node, wire.TypeResult).Msg
			require.Equal(t, 2, res.Attempt)
			require.Equal(t, uint64(2), res.Term)
			require.Equal(t, 1, b.gate.executions("r1"))
		})
	})
	t.Run("ManyRunsOnce", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			count := map[string]int{}
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			n1.AutoAck(true)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}, Capacity: 50}, func(c *handlerclient.Client) {
				c.Handle("count", func(_ context.Context, j *handlerclient.Job) (any, error) {
					mu.Lock()
					defer mu.Unlock()
					count[j.RunID]++
					return nil, nil
				})
			})
			peer := registered(t, n1)
			for range 3 {
				for i := range 40 {
					dispatch(t, n1, peer, fmt.Sprintf("r%d", i), "count", nil)
				}
				synctest.Wait()
			}
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, count, 40)
			for id, n := range count {
				require.Equal(t, 1, n, id)
			}
		})
	})
}

func TestClient_Cancel(t *testing.T) {
	t.Parallel()
	t.Run("CancelMessage", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "gate", nil)
			b.gate.waitStarted(t)
			require.NoError(t, b.node.Send(context.Background(), b.peer, wire.Message{Type: wire.TypeCancel, RunID: "r1", Reason: "cancel_other"}))
			require.ErrorIs(t, <-b.gate.causes, handlerclient.ErrCancelled)
			res := next(t, b.node, wire.TypeResult).Msg
			require.False(t, res.OK)
			require.Equal(t, handlerclient.ErrCancelled.Error(), res.Error)
		})
	})
	t.Run("CancelWithStaleTermIgnored", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			dispatch(t, b.node, b.peer, "r1", "gate", nil, withTerm(3))
			b.gate.waitStarted(t)
			require.NoError(t, b.node.Send(context.Background(), b.peer, wire.Message{Type: wire.TypeCancel, RunID: "r1", Term: 2}))
			synctest.Wait()
			require.Empty(t, b.gate.causes)
			b.gate.release <- struct{}{}
			require.True(t, next(t, b.node, wire.TypeResult).Msg.OK)
		})
	})
	t.Run("Deadline", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			b := setupLeader(t, handlerclient.Config{})
			deadline := time.Now().Add(90 * time.Second)
			dispatch(t, b.node, b.peer, "r1", "gate", nil, func(m *wire.Message) { m.Deadline = &deadline })
			j := b.gate.waitStarted(t)
			require.True(t, j.Deadline.Equal(deadline))
			cause := <-b.gate.causes
			require.ErrorIs(t, cause, handlerclient.ErrDeadline)
			require.ErrorIs(t, cause, context.DeadlineExceeded)
			require.Equal(t, deadline, time.Now())
			require.False(t, next(t, b.node, wire.TypeResult).Msg.OK)
		})
	})
}
