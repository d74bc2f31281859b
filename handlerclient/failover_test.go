package handlerclient_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/handlerclient/handlerclienttest"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

func TestClient_Failover(t *testing.T) {
	t.Parallel()
	t.Run("PendingResultGoesToNewLeader", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1, n2 := startNode(t, net, "n1"), startNode(t, net, "n2")
			n1.Lead(1)
			n2.Follow("n1", n1.Endpoint(), 1)
			g := newGate()
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), n2.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("gate", g.fn)
			})
			p1 := registered(t, n1)
			dispatch(t, n1, p1, "r1", "gate", nil)
			next(t, n1, wire.TypeAccepted)
			g.waitStarted(t)

			n1.Close() // the leader dies while the job runs
			n2.Lead(2)
			n2.Drain()
			p2 := registered(t, n2)
			synctest.Wait() // the welcome of term 2 is processed
			g.release <- struct{}{}
			res := next(t, n2, wire.TypeResult)
			require.Equal(t, p2, res.Peer)
			require.Equal(t, "r1", res.Msg.RunID)
			require.Equal(t, uint64(1), res.Msg.Term, "the result carries the term of its dispatch")
			ack(t, n2, p2, "r1", 1)
			none(t, n2, 20*time.Second, wire.TypeResult)
		})
	})
	t.Run("UnackedResultResentToNewLeader", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1, n2 := startNode(t, net, "n1"), startNode(t, net, "n2")
			n1.Lead(1)
			n2.Follow("n1", n1.Endpoint(), 1)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), n2.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("echo", echo)
			})
			p1 := registered(t, n1)
			dispatch(t, n1, p1, "r1", "echo", "v")
			next(t, n1, wire.TypeResult) // delivered, never acknowledged

			// The old leader hangs: its connection goes silent and is
			// closed; a new leader is elected.
			n1.Mute(true)
			n2.Lead(2)
			res := next(t, n2, wire.TypeResult)
			require.Equal(t, "r1", res.Msg.RunID)
			require.JSONEq(t, `"v"`, string(res.Msg.Result))
			p2, ok := n2.Peer("h")
			require.True(t, ok)
			require.Equal(t, p2, res.Peer)
		})
	})
}

// Leader search (search.go): when the leader's connection drops, as it
// does at once when the node is killed, the client asks the other nodes
// straight away and every probe interval after that, instead of waiting
// for a heartbeat tick or for liveness to expire.
func TestClient_LeaderSearch(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		heartbeatMS int
		election    time.Duration // from the old leader's death to the new leader
		probe       time.Duration // the client's probe interval at that heartbeat
	}{
		"DefaultProfile": {heartbeatMS: 1000, election: 1200 * time.Millisecond, probe: 50 * time.Millisecond},
		"FastProfile":    {heartbeatMS: 100, election: 150 * time.Millisecond, probe: 20 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				net := transport.NewInmemNetwork()
				n1, n2, n3 := startNode(t, net, "n1"), startNode(t, net, "n2"), startNode(t, net, "n3")
				for _, n := range []*handlerclienttest.Node{n1, n2, n3} {
					n.SetTiming(tc.heartbeatMS, 3)
				}
				n1.Lead(1)
				n2.Follow("n1", n1.Endpoint(), 1)
				n3.Follow("n1", n1.Endpoint(), 1)
				g := newGate()
				start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), n2.Endpoint(), n3.Endpoint()}},
					func(c *handlerclient.Client) { c.Handle("gate", g.fn) })
				p1 := registered(t, n1)
				dispatch(t, n1, p1, "r1", "gate", nil)
				next(t, n1, wire.TypeAccepted)
				g.waitStarted(t)
				time.Sleep(2550 * time.Millisecond) // mid-interval: the next tick is far
				synctest.Wait()

				// kill -9 of the leader: its connections close. The
				// followers do not know a leader during the election.
				n2.Follow("", "", 1)
				n3.Follow("", "", 1)
				n2.Drain()
				died := time.Now()
				n1.Close()
				in := next(t, n2, wire.TypeHello)
				require.Zero(t, time.Since(died), "the other nodes are asked at once")
				require.Equal(t, []string{"r1"}, in.Msg.Running)

				time.Sleep(tc.election)
				n2.Lead(2)
				n3.Follow("n2", n2.Endpoint(), 2)
				elected := time.Now()
				n2.Drain()
				p2 := registered(t, n2)
				took := time.Since(elected)
				t.Logf("hello to the new leader %v after its election, %v after the old leader died", took, time.Since(died))
				require.LessOrEqual(t, took, tc.probe, "within one probe interval")
				synctest.Wait() // welcome processed: n2 is the leader link
				g.release <- struct{}{}
				res := next(t, n2, wire.TypeResult)
				require.Equal(t, p2, res.Peer)
				dispatch(t, n2, p2, "r2", "gate", nil)
				next(t, n2, wire.TypeAccepted)

				// Found: no more probing, the follower hears a hello per
				// heartbeat interval again.
				n3.Drain()
				time.Sleep(time.Duration(tc.heartbeatMS) * time.Millisecond * 5 / 2)
				synctest.Wait()
				hellos := 0
				for {
					ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
					_, err := n3.Next(ctx, wire.TypeHello)
					cancel()
					if err != nil {
						break
					}
					hellos++
				}
				require.InDelta(t, 2, hellos, 1)
				g.release <- struct{}{}
			})
		})
	}
	t.Run("LongElectionBacksOff", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1, n2 := startNode(t, net, "n1"), startNode(t, net, "n2")
			n1.Lead(1)
			n2.Follow("n1", n1.Endpoint(), 1)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), n2.Endpoint()}},
				func(c *handlerclient.Client) { c.Handle("echo", echo) })
			registered(t, n1)
			synctest.Wait()
			n2.Follow("", "", 1)
			n1.Close()
			time.Sleep(10 * time.Second) // no leader for long
			synctest.Wait()
			n2.Drain()
			time.Sleep(5 * time.Second)
			synctest.Wait()
			hellos := 0
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
				_, err := n2.Next(ctx, wire.TypeHello)
				cancel()
				if err != nil {
					break
				}
				hellos++
			}
			require.InDelta(t, 5, hellos, 1, "one hello per heartbeat interval once the search is old")
		})
	})
}

func TestClient_Heartbeat(t *testing.T) {
	t.Parallel()
	t.Run("SilentConnRedialledWithNewIdentity", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			reg := prometheus.NewRegistry()
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}, Instance: "i", Registerer: reg},
				func(c *handlerclient.Client) { c.Handle("echo", echo) })
			id1 := registered(t, n1)
			seq1 := requireIdentity(t, id1, "h", "i")

			// Stay connected while the node answers.
			none(t, n1, 30*time.Second, wire.TypeHello)
			cut := time.Now()
			net.Partition(n1.Endpoint(), id1, true) // silent both ways, like a dead host
			in := next(t, n1, wire.TypeHello)
			require.NotEqual(t, id1, in.Peer)
			require.Greater(t, requireIdentity(t, in.Peer, "h", "i"), seq1)
			elapsed := time.Since(cut)
			// Dead after 3 silent heartbeat intervals (the last answer came
			// up to one interval before the cut), checked every interval,
			// redialled after MinBackoff plus jitter.
			require.GreaterOrEqual(t, elapsed, 2*time.Second)
			require.Less(t, elapsed, 4*time.Second+handlerclient.MinBackoff*6/5)
			require.Equal(t, 1.0, metricValue(t, reg, "sz_handler_reconnects_total"))

			// The new connection works.
			dispatch(t, n1, in.Peer, "r1", "echo", 1)
			next(t, n1, wire.TypeResult)
		})
	})
	t.Run("NodeDownBacksOff", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("echo", echo)
			})
			registered(t, n1)
			n1.Close()
			time.Sleep(time.Minute) // dials fail, spaced by the back-off (up to MaxBackoff)
			down := time.Now()
			n1 = startNode(t, net, "n1")
			n1.Lead(2)
			peer := registered(t, n1)
			require.LessOrEqual(t, time.Since(down), handlerclient.MaxBackoff*6/5)
			dispatch(t, n1, peer, "r1", "echo", 1)
			require.Equal(t, uint64(2), next(t, n1, wire.TypeResult).Msg.Term)
		})
	})
	t.Run("GoodbyeFromNodeRedials", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("echo", echo)
			})
			id1 := registered(t, n1)
			require.NoError(t, n1.Send(context.Background(), id1, wire.Message{Type: wire.TypeGoodbye, Reason: "restart"}))
			at := time.Now()
			id2 := registered(t, n1)
			require.NotEqual(t, id1, id2)
			require.Less(t, time.Since(at), time.Second)
		})
	})
}

// metricValue returns the value of the (unlabelled) counter or gauge name.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestClient_SearchRedials: a node that was down long enough for its
// link's back-off to grow comes back and is made leader while the old
// leader dies (a graceful transfer to a restarted node). The search redials
// it at once instead of after the back-off.
func TestClient_SearchRedials(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		net := transport.NewInmemNetwork()
		n1, n2 := startNode(t, net, "n1"), startNode(t, net, "n2")
		n1.Lead(1)
		n2.Follow("n1", n1.Endpoint(), 1)
		start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), n2.Endpoint()}},
			func(c *handlerclient.Client) { c.Handle("echo", echo) })
		registered(t, n1)
		synctest.Wait()
		ep2 := n2.Endpoint()
		n2.Close()
		time.Sleep(6 * time.Second) // failed redials: the back-off is now seconds long
		synctest.Wait()
		back := startNodeAt(t, net, "n2", ep2)
		back.Lead(2)
		n1.Close() // the old leader hands over and goes away
		closed := time.Now()
		registered(t, back)
		require.Less(t, time.Since(closed), handlerclient.MinBackoff, "redialled at once, not after the back-off")
	})
}
