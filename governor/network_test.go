package governor

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// silence is how long a blackholed connection must stay quiet; absence of
// data can only be observed by waiting.
const silence = 250 * time.Millisecond

// upstream is a plain TCP server standing in for a node's listener; the
// test reads and writes its accepted connections directly.
type upstream struct {
	ln    net.Listener
	conns chan net.Conn
}

func newUpstream(t *testing.T, ip string) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	require.NoError(t, err)
	u := &upstream{ln: ln, conns: make(chan net.Conn, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		close(u.conns)
		for c := range u.conns {
			_ = c.Close()
		}
	})
	return u
}

// accept returns the next connection the proxy opened to the upstream.
func (u *upstream) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-u.conns:
		t.Cleanup(func() { _ = c.Close() })
		return c
	case <-time.After(2 * time.Second):
		t.Fatal("the proxy did not connect upstream")
		return nil
	}
}

func (u *upstream) expectNoAccept(t *testing.T) {
	t.Helper()
	select {
	case c := <-u.conns:
		_ = c.Close()
		t.Fatal("a cut caller reached the upstream")
	case <-time.After(silence):
	}
}

type netBundle struct {
	net *network
	up  map[string]*upstream // by node ID
	px  map[string]string    // proxy address by node ID
}

// setupNetwork fronts nodes n1..n3 (upstreams on 127.0.1.i) with proxies on
// 127.0.2.i, and handler h1's own proxy for n1 on 127.0.3.1.
func setupNetwork(t *testing.T) *netBundle {
	t.Helper()
	b := &netBundle{net: newNetwork(slog.New(slog.DiscardHandler)), up: map[string]*upstream{}, px: map[string]string{}}
	t.Cleanup(b.net.close)
	for i := 1; i <= 3; i++ {
		id := nodeID(i)
		b.up[id] = newUpstream(t, loopback(bindNet, i))
		addr, err := b.net.listen(loopback(proxyNet, i)+":0", b.up[id].ln.Addr().String(), id, "raft", callerBySource)
		require.NoError(t, err)
		b.px[id] = addr
	}
	addr, err := b.net.listen(loopback(handlerNet, 1)+":0", b.up["n1"].ln.Addr().String(), "n1", "zmq", func(net.Addr) string { return "h1" })
	require.NoError(t, err)
	b.px["h1>n1"] = addr
	return b
}

// dialFrom connects to addr from srcIP, as node srcIP's owner would.
func dialFrom(t *testing.T, srcIP, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcIP)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	_, err := c.Write([]byte(s))
	require.NoError(t, err)
}

func expectData(t *testing.T, c net.Conn, want string) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, len(want))
	_, err := io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, want, string(buf))
}

// expectSilence asserts that nothing arrives and the connection stays open.
func expectSilence(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(silence)))
	n, err := c.Read(make([]byte, 64))
	require.Zero(t, n, "bytes crossed a cut direction")
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "want a quiet open connection, got %v", err)
}

func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, err := io.ReadAll(c)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "connection was not closed")
}

func TestNetwork_Forwarding(t *testing.T) {
	t.Parallel()
	b := setupNetwork(t)
	c := dialFrom(t, "127.0.1.2", b.px["n1"])
	s := b.up["n1"].accept(t)
	send(t, c, "append-entries")
	expectData(t, s, "append-entries")
	send(t, s, "ok")
	expectData(t, c, "ok")
	require.Equal(t, map[string]int64{"raft": 1}, b.net.peerConns("n2"), "the caller is identified by its source IP")
	require.Empty(t, b.net.peerConns("n1"))
	require.EqualValues(t, 1, b.net.serviceConns("raft"))

	t.Run("HalfCloseIsPassedOn", func(t *testing.T) {
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
		require.NoError(t, s.SetReadDeadline(time.Now().Add(2*time.Second)))
		rest, err := io.ReadAll(s)
		require.NoError(t, err)
		require.Empty(t, rest)
		send(t, s, "late reply")
		expectData(t, c, "late reply")
	})
}

func TestNetwork_Partition(t *testing.T) {
	t.Parallel()

	t.Run("BlackholesExistingConnections", func(t *testing.T) {
		t.Parallel()
		b := setupNetwork(t)
		c := dialFrom(t, "127.0.1.2", b.px["n1"])
		s := b.up["n1"].accept(t)
		send(t, c, "hello")
		expectData(t, s, "hello")

		rs, err := partitionRules([][]string{{"n1"}, {"n2", "n3"}})
		require.NoError(t, err)
		b.net.setRules(rs)
		send(t, c, "lost")
		expectSilence(t, s)
		send(t, s, "lost too")
		expectSilence(t, c)
	})
	t.Run("NewConnectionsAreAcceptedButNeverReachTheTarget", func(t *testing.T) {
		t.Parallel()
		b := setupNetwork(t)
		rs, err := partitionRules([][]string{{"n1"}, {"n2"}})
		require.NoError(t, err)
		b.net.setRules(rs)
		c := dialFrom(t, "127.0.1.2", b.px["n1"])
		send(t, c, "vote for me")
		b.up["n1"].expectNoAccept(t)
		expectSilence(t, c)
	})
	t.Run("HealClosesBlackholedConnections", func(t *testing.T) {
		t.Parallel()
		b := setupNetwork(t)
		cut := dialFrom(t, "127.0.1.2", b.px["n1"])
		s := b.up["n1"].accept(t)
		untouched := dialFrom(t, "127.0.1.3", b.px["n2"])
		s2 := b.up["n2"].accept(t)
		rs, err := partitionRules([][]string{{"n1"}, {"n2"}})
		require.NoError(t, err)
		b.net.setRules(rs)
		send(t, cut, "dropped")
		expectSilence(t, s)

		b.net.setRules(ruleSet{})
		expectClosed(t, cut)
		expectClosed(t, s)
		send(t, untouched, "still here")
		expectData(t, s2, "still here")
		fresh := dialFrom(t, "127.0.1.2", b.px["n1"])
		s3 := b.up["n1"].accept(t)
		send(t, fresh, "again")
		expectData(t, s3, "again")
	})
	t.Run("ClientTrafficIsNeverCut", func(t *testing.T) {
		t.Parallel()
		b := setupNetwork(t)
		old := dialFrom(t, "127.0.0.1", b.px["n1"])
		s := b.up["n1"].accept(t)
		rs, err := partitionRules([][]string{{"n1"}, {"n2", "n3", "h1"}})
		require.NoError(t, err)
		b.net.setRules(rs)
		send(t, old, "get /v1/schedules")
		expectData(t, s, "get /v1/schedules")
		fresh := dialFrom(t, "127.0.0.1", b.px["n1"])
		s2 := b.up["n1"].accept(t)
		send(t, s2, "200 OK")
		expectData(t, fresh, "200 OK")
	})
	t.Run("HandlerIsIdentifiedByItsListener", func(t *testing.T) {
		t.Parallel()
		b := setupNetwork(t)
		rs, err := partitionRules([][]string{{"n1"}, {"h1"}})
		require.NoError(t, err)
		b.net.setRules(rs)
		c := dialFrom(t, "127.0.0.1", b.px["h1>n1"])
		send(t, c, "HELLO")
		b.up["n1"].expectNoAccept(t)
		other := dialFrom(t, "127.0.0.1", b.px["n1"]) // the same process, not through its own proxy: a client
		b.up["n1"].accept(t)
		send(t, other, "x")
	})
}

func TestNetwork_PartitionOneWay(t *testing.T) {
	t.Parallel()
	b := setupNetwork(t)
	rs, err := oneWayRules([]string{"n2"}, []string{"n1"})
	require.NoError(t, err)
	b.net.setRules(rs)

	t.Run("CallerToTargetDropped", func(t *testing.T) {
		c := dialFrom(t, "127.0.1.2", b.px["n1"])
		b.up["n1"].expectNoAccept(t) // like a SYN that never arrives
		send(t, c, "append")
		expectSilence(t, c)
	})
	t.Run("RepliesOfTheCutSideDropped", func(t *testing.T) {
		c := dialFrom(t, "127.0.1.1", b.px["n2"]) // n1 calls n2: n1→n2 flows, n2→n1 does not
		s := b.up["n2"].accept(t)
		send(t, c, "request")
		expectData(t, s, "request")
		send(t, s, "reply")
		expectSilence(t, c)
		send(t, c, "more")
		expectData(t, s, "more")
	})
}

func TestNetwork_CloseTarget(t *testing.T) {
	t.Parallel()
	b := setupNetwork(t)
	c := dialFrom(t, "127.0.1.2", b.px["n1"])
	b.up["n1"].accept(t)
	b.net.closeTarget("n1")
	expectClosed(t, c)
	_, err := net.DialTimeout("tcp", b.px["n1"], time.Second)
	require.Error(t, err)
	_, err = net.DialTimeout("tcp", b.px["h1>n1"], time.Second)
	require.Error(t, err)
	c2 := dialFrom(t, "127.0.1.1", b.px["n2"])
	s2 := b.up["n2"].accept(t)
	send(t, c2, "ok")
	expectData(t, s2, "ok")
}
