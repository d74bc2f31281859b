package handlerclient_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/handlerclient"
	"github.com/schedulezero/schedulezero/transport"
	"github.com/schedulezero/schedulezero/wire"
)

func TestClient_New(t *testing.T) {
	t.Parallel()
	valid := func() handlerclient.Config {
		return handlerclient.Config{Name: "h", Servers: []string{"tcp://127.0.0.1:4242", "tcp://[::1]:4243", "tcp://node-3:4244"}}
	}
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		c, err := handlerclient.New(valid())
		require.NoError(t, err)
		require.Equal(t, handlerclient.Instance(), c.Instance())
		require.Len(t, handlerclient.Instance(), 16)
	})
	t.Run("ErrInvalidConfig", func(t *testing.T) {
		t.Parallel()
		for name, mutate := range map[string]func(*handlerclient.Config){
			"NoName":          func(c *handlerclient.Config) { c.Name = "" },
			"NameWithSlash":   func(c *handlerclient.Config) { c.Name = "a/b" },
			"NameWithSpace":   func(c *handlerclient.Config) { c.Name = "a b" },
			"InstanceSlash":   func(c *handlerclient.Config) { c.Instance = "x/y" },
			"NoServers":       func(c *handlerclient.Config) { c.Servers = nil },
			"NoScheme":        func(c *handlerclient.Config) { c.Servers = []string{"127.0.0.1:4242"} },
			"OtherScheme":     func(c *handlerclient.Config) { c.Servers = []string{"ipc:///tmp/sock"} },
			"NoPort":          func(c *handlerclient.Config) { c.Servers = []string{"tcp://127.0.0.1"} },
			"BadPort":         func(c *handlerclient.Config) { c.Servers = []string{"tcp://127.0.0.1:0"} },
			"NoHost":          func(c *handlerclient.Config) { c.Servers = []string{"tcp://:4242"} },
			"DuplicateServer": func(c *handlerclient.Config) { c.Servers = append(c.Servers, c.Servers[0]) },
			"NegativeCap":     func(c *handlerclient.Config) { c.Capacity = -1 },
			"NegativeLive":    func(c *handlerclient.Config) { c.Liveness = -1 },
			"TinyHeartbeat":   func(c *handlerclient.Config) { c.HeartbeatInterval = time.Microsecond },
			"NegativeDrain":   func(c *handlerclient.Config) { c.DrainTimeout = -time.Second },
		} {
			cfg := valid()
			mutate(&cfg)
			_, err := handlerclient.New(cfg)
			require.ErrorIs(t, err, handlerclient.ErrInvalidConfig, name)
		}
	})
	t.Run("ErrMetricsRegisteredTwice", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		cfg := valid()
		cfg.Registerer = reg
		_, err := handlerclient.New(cfg)
		require.NoError(t, err)
		_, err = handlerclient.New(cfg)
		require.ErrorContains(t, err, "already registered")
	})
}

func TestClient_Run(t *testing.T) {
	t.Parallel()
	newClient := func(t *testing.T) *handlerclient.Client {
		c, err := handlerclient.New(handlerclient.Config{Name: "h", Servers: []string{endpoint("n1")},
			Dialer: transport.NewInmemNetwork().Dialer(transport.DialerConfig{})})
		require.NoError(t, err)
		return c
	}
	t.Run("ErrInvalidHandler", func(t *testing.T) {
		t.Parallel()
		for name, register := range map[string]func(*handlerclient.Client){
			"None":      func(*handlerclient.Client) {},
			"Duplicate": func(c *handlerclient.Client) { c.Handle("echo", echo); c.Handle("echo", echo) },
			"BadName":   func(c *handlerclient.Client) { c.Handle("ec ho", echo) },
			"EmptyName": func(c *handlerclient.Client) { c.Handle("", echo) },
			"NilFunc":   func(c *handlerclient.Client) { c.Handle("echo", nil) },
		} {
			c := newClient(t)
			register(c)
			require.ErrorIs(t, c.Run(context.Background()), handlerclient.ErrInvalidHandler, name)
		}
	})
	t.Run("ErrRunning", func(t *testing.T) {
		t.Parallel()
		c := newClient(t)
		c.Handle("echo", echo)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.NoError(t, c.Run(ctx))
		require.ErrorIs(t, c.Run(ctx), handlerclient.ErrRunning)
	})
	t.Run("HandleAfterRunIsReported", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			r := start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("echo", echo)
			})
			registered(t, n1)
			r.Handle("late", echo)
			require.ErrorIs(t, r.stop(), handlerclient.ErrInvalidHandler)
		})
	})
}

func TestClient_Register(t *testing.T) {
	t.Parallel()
	t.Run("Hello", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1 := startNode(t, net, "n1")
			n1.Lead(1)
			start(t, net, handlerclient.Config{Name: "reports", Servers: []string{n1.Endpoint()}, Capacity: 7,
				Token: "secret", Instance: "inst1"}, func(c *handlerclient.Client) {
				c.Handle("noop", echo)
				c.Handle("echo", echo)
			})
			in := next(t, n1, wire.TypeHello)
			require.Equal(t, "reports", in.Msg.Name)
			require.Equal(t, "inst1", in.Msg.Instance)
			require.Equal(t, []string{"echo", "noop"}, in.Msg.Methods)
			require.Equal(t, 7, in.Msg.Capacity)
			require.Equal(t, "secret", in.Msg.Token)
			requireIdentity(t, in.Peer, "reports", "inst1")
		})
	})
	t.Run("FollowsRedirect", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1, n2 := startNode(t, net, "n1"), startNode(t, net, "n2")
			n1.Follow("n2", n2.Endpoint(), 3)
			n2.Lead(3)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), n2.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("echo", echo)
			})
			registered(t, n1)
			peer := registered(t, n2)
			dispatch(t, n2, peer, "r1", "echo", "x")
			require.Equal(t, "r1", next(t, n2, wire.TypeResult).Msg.RunID)
			// The follower keeps being asked, so that it can welcome once elected.
			registered(t, n1)
			registered(t, n1)
		})
	})
	t.Run("FollowsRedirectOutsideServers", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1, n3 := startNode(t, net, "n1"), startNode(t, net, "n3")
			n1.Follow("n3", n3.Endpoint(), 2)
			n3.Lead(2)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("echo", echo)
			})
			peer := registered(t, n3)
			dispatch(t, n3, peer, "r1", "echo", 42)
			res := next(t, n3, wire.TypeResult).Msg
			require.JSONEq(t, "42", string(res.Result))
		})
	})
	t.Run("ExtraEndpointDroppedWhenLeaderReachable", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			// n3 is reached through a configured endpoint (a proxy, cut at
			// first) and advertises another one (its own address).
			net := transport.NewInmemNetwork()
			n1, proxied, direct := startNode(t, net, "n1"), startNode(t, net, "n3"), startNodeAt(t, net, "n3", endpoint("n3-direct"))
			proxied.Lead(2)
			direct.Lead(2)
			n1.Follow("n3", direct.Endpoint(), 2)
			net.Partition(proxied.Endpoint(), "", true)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), proxied.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("echo", echo)
			})
			registered(t, direct)
			net.Partition(proxied.Endpoint(), "", false)
			registered(t, proxied)
			synctest.Wait()
			direct.Drain()
			none(t, direct, 10*time.Second, wire.TypeHello, wire.TypeHeartbeat)
			next(t, proxied, wire.TypeHeartbeat) // the leader link
		})
	})
	t.Run("NewLeaderWelcomes", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			net := transport.NewInmemNetwork()
			n1, n2 := startNode(t, net, "n1"), startNode(t, net, "n2")
			n1.Lead(1)
			n1.AutoAck(true)
			n2.Follow("n1", n1.Endpoint(), 1)
			start(t, net, handlerclient.Config{Servers: []string{n1.Endpoint(), n2.Endpoint()}}, func(c *handlerclient.Client) {
				c.Handle("echo", echo)
			})
			p1 := registered(t, n1)
			registered(t, n2)
			dispatch(t, n1, p1, "r1", "echo", 1)
			next(t, n1, wire.TypeResult)
			synctest.Wait() // the acknowledgement is processed

			// Election: n2 leads term 2; the client's periodic hello finds it.
			n2.Lead(2)
			n1.Follow("n2", n2.Endpoint(), 2)
			n2.Drain()
			p2 := registered(t, n2)
			synctest.Wait() // its welcome is processed
			dispatch(t, n2, p2, "r2", "echo", 2)
			res := next(t, n2, wire.TypeResult).Msg
			require.Equal(t, "r2", res.RunID)
			require.Equal(t, uint64(2), res.Term)
		})
	})
}

// requireIdentity checks the "<name>/<instance>/<n>" form and returns n.
func requireIdentity(t *testing.T, id, name, instance string) int {
	t.Helper()
	parts := strings.Split(id, "/")
	require.Len(t, parts, 3, id)
	require.Equal(t, name, parts[0])
	require.Equal(t, instance, parts[1])
	n, err := strconv.Atoi(parts[2])
	require.NoError(t, err)
	return n
}
