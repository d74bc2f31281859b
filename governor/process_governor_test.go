package governor_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/governor"
	"github.com/schedulezero/schedulezero/governor/governortest"
)

func TestProcessGovernor_New(t *testing.T) {
	t.Parallel()
	bin := governortest.BinDir(t)
	valid := governor.Config{Dir: t.TempDir(), NodeBinary: filepath.Join(bin, governortest.NodeName), Nodes: 3}
	for name, mod := range map[string]func(*governor.Config){
		"ErrNoDir":          func(c *governor.Config) { c.Dir = "" },
		"ErrNoBinary":       func(c *governor.Config) { c.NodeBinary = filepath.Join(bin, "missing") },
		"ErrZeroNodes":      func(c *governor.Config) { c.Nodes = 0 },
		"ErrBadProfile":     func(c *governor.Config) { c.RaftProfile = "turbo" },
		"ErrBasePort":       func(c *governor.Config) { c.BasePort = 80 },
		"ErrHandlersNoCmd":  func(c *governor.Config) { c.Handlers = 1 },
		"ErrHandlerMissing": func(c *governor.Config) { c.Handlers = 1; c.HandlerCommand = "no-such-handler --x"; c.BinDir = bin },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := valid
			mod(&cfg)
			_, err := governor.New(cfg)
			require.ErrorIs(t, err, governor.ErrInvalidConfig)
		})
	}
	t.Run("HandlerMissingIsCommandNotFound", func(t *testing.T) {
		cfg := valid
		cfg.Handlers, cfg.HandlerCommand = 2, "szhandler --servers {servers}"
		_, err := governor.New(cfg)
		require.ErrorIs(t, err, governor.ErrCommandNotFound)
	})
	t.Run("StopBeforeStart", func(t *testing.T) {
		g, err := governor.New(valid)
		require.NoError(t, err)
		require.NoError(t, g.Stop(t.Context()))
		require.NoError(t, g.Stop(t.Context()))
		require.Error(t, g.Start(t.Context()))
		_, err = os.Stat(filepath.Join(valid.Dir, governor.StateFile))
		require.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestProcessGovernor_Start(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *governor.Config) {
		c.Nodes, c.Handlers = 3, 2
		c.HandlerCommand = "szhandler --name demo --servers {servers} --journal {dir}/journal.jsonl"
	})
	st := b.status(t)
	require.Equal(t, "running", st.Governor.State)
	require.Len(t, st.Nodes, 3)
	require.Len(t, st.Handlers, 2)
	base := b.cfg.BasePort
	for i, n := range st.Nodes {
		idx := i + 1
		require.Equal(t, "n"+itoa(idx), n.ID)
		require.Equal(t, governor.StateRunning, n.State)
		require.NotZero(t, n.PID)
		require.Equal(t, "127.0.1."+itoa(idx)+":"+itoa(base+idx), n.HTTPAddr)
		require.Equal(t, "127.0.1."+itoa(idx)+":"+itoa(base+100+idx), n.RaftAddr)
		require.Equal(t, "tcp://127.0.1."+itoa(idx)+":"+itoa(base+200+idx), n.ZMQAddr)
		require.Equal(t, "127.0.2."+itoa(idx)+":"+itoa(base+idx), n.AdvertiseHTTP)
		require.Contains(t, n.Cmdline, "--advertise-raft")
		require.FileExists(t, n.LogFile)
	}
	require.Contains(t, st.Nodes[0].Cmdline, "--bootstrap")
	require.Equal(t, "127.0.2.1:"+itoa(base+1), st.Nodes[2].Cmdline[slices.Index(st.Nodes[2].Cmdline, "--join")+1])
	require.Positive(t, st.Nodes[1].PeerConns["http"], "n2 joined from 127.0.1.2 through n1's proxy")
	require.Positive(t, st.Nodes[2].PeerConns["http"])
	for i, h := range st.Handlers {
		require.Equal(t, governor.StateRunning, h.State)
		want := "tcp://127.0.3." + itoa(i+1) + ":" + itoa(base+201) + ",tcp://127.0.3." + itoa(i+1) + ":" + itoa(base+202) + ",tcp://127.0.3." + itoa(i+1) + ":" + itoa(base+203)
		require.Equal(t, want, h.Servers)
		require.Contains(t, h.Cmdline, want)
		require.Contains(t, h.Cmdline, filepath.Join(b.cfg.Dir, "handlers", h.ID, "journal.jsonl"))
	}

	t.Run("HandlerProxyReachesTheNode", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", "127.0.3.2:"+itoa(base+203), 2*time.Second) // h2 → n3's zmq (an echo)
		require.NoError(t, err)
		defer c.Close()
		echoes(t, c, "READY")
	})
}

func TestProcessGovernor_Supervision(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := t.Context()

	t.Run("KilledProcessIsRestartedAfterBackoff", func(t *testing.T) {
		before := b.process(t, "n1")
		require.NoError(t, b.g.Kill(ctx, "n1"))
		waitFor(t, 10*time.Second, "n1 restarted", func() bool {
			p := b.process(t, "n1")
			return p.PID != 0 && p.PID != before.PID && p.State == governor.StateRunning
		})
		after := b.process(t, "n1")
		require.Equal(t, before.Restarts+1, after.Restarts)
		require.Contains(t, after.LastExit, "killed")
	})
	t.Run("TermIsRestartedToo", func(t *testing.T) {
		before := b.process(t, "n1")
		require.NoError(t, b.g.Term(ctx, "n1"))
		waitFor(t, 10*time.Second, "n1 restarted", func() bool {
			p := b.process(t, "n1")
			return p.PID != 0 && p.PID != before.PID && p.State == governor.StateRunning
		})
		require.Equal(t, "exit status 0", b.process(t, "n1").LastExit)
	})
	t.Run("PausedProcessIsLeftAlone", func(t *testing.T) {
		before := b.process(t, "n1")
		require.NoError(t, b.g.Pause(ctx, "n1"))
		require.Equal(t, governor.StatePaused, b.process(t, "n1").State)
		time.Sleep(300 * time.Millisecond) // longer than the back-off: nothing may happen
		p := b.process(t, "n1")
		require.Equal(t, governor.StatePaused, p.State)
		require.Equal(t, before.PID, p.PID)
		require.NoError(t, b.g.Resume(ctx, "n1"))
		require.Equal(t, governor.StateRunning, b.process(t, "n1").State)
	})
	t.Run("CrashLoopEndsFailed", func(t *testing.T) {
		touch(t, filepath.Join(b.dataDir("n1"), "crash"))
		require.NoError(t, b.g.Kill(ctx, "n1"))
		waitFor(t, 10*time.Second, "n1 failed", func() bool { return b.process(t, "n1").State == governor.StateFailed })
		p := b.process(t, "n1")
		require.Zero(t, p.PID)
		require.Equal(t, "exit status 3", p.LastExit)
		require.ErrorIs(t, b.g.Kill(ctx, "n1"), governor.ErrNotRunning)
	})
	t.Run("RestartRevivesAFailedProcess", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(b.dataDir("n1"), "crash")))
		require.NoError(t, b.g.Restart(ctx, "n1"))
		require.Equal(t, governor.StateRunning, b.process(t, "n1").State)
	})
	t.Run("ErrUnknownProcess", func(t *testing.T) {
		require.ErrorIs(t, b.g.Kill(ctx, "n9"), governor.ErrUnknownProcess)
		require.ErrorIs(t, b.g.Pause(ctx, "bogus"), governor.ErrUnknownProcess)
	})
	t.Run("Timeline", func(t *testing.T) {
		ops := timelineOps(t, b.cfg.Dir)
		for _, want := range []string{"governor:up:", "fault:kill:n1", "fault:term:n1", "fault:stop:n1", "fault:cont:n1",
			"process:exit:n1", "process:spawn:n1", "process:failed:n1", "fault:restart:n1"} {
			require.Contains(t, ops, want)
		}
	})
}

func TestProcessGovernor_Stop(t *testing.T) {
	t.Parallel()

	t.Run("KillsAfterTheGracePeriod", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *governor.Config) { c.GracePeriod = 300 * time.Millisecond })
		require.NoError(t, b.g.Restart(t.Context(), "n1")) // graceful on the first try
		touch(t, filepath.Join(b.dataDir("n1"), "ignore-term"))
		require.NoError(t, b.g.Restart(t.Context(), "n1")) // now it ignores SIGTERM on start
		pid := b.process(t, "n1").PID
		start := time.Now()
		require.NoError(t, b.g.Stop(t.Context()))
		require.Less(t, time.Since(start), 5*time.Second)
		require.False(t, pidAlive(pid))
		require.Contains(t, b.process(t, "n1").LastExit, "killed")
		select {
		case <-b.g.Done():
		default:
			t.Fatal("Done not closed after Stop")
		}
	})
	t.Run("StopsPausedProcesses", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *governor.Config) { c.Nodes = 2 })
		require.NoError(t, b.g.Pause(t.Context(), "n2"))
		require.NoError(t, b.g.Stop(t.Context()))
		require.Equal(t, "exit status 0", b.process(t, "n2").LastExit, "SIGCONT follows SIGTERM")
	})
}

func TestProcessGovernor_StateFile(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *governor.Config) {
		c.Nodes, c.Handlers, c.HandlerCommand = 2, 1, "szhandler --servers {servers}"
	})
	live := b.status(t)
	var recorded governor.Status
	waitFor(t, 5*time.Second, "state.json to catch up", func() bool {
		var err error
		recorded, err = governor.ReadState(b.cfg.Dir)
		return err == nil && sameProcesses(recorded, live) && recorded.Governor.State == "running"
	})
	require.Equal(t, live.Governor.ControlAddr, recorded.Governor.ControlAddr)
	require.Equal(t, os.Getpid(), recorded.Governor.PID)
	fi, err := os.Stat(filepath.Join(b.cfg.Dir, governor.StateFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the file holds the control token")

	t.Run("ErrLockedAndNotClobbered", func(t *testing.T) {
		before, err := os.ReadFile(filepath.Join(b.cfg.Dir, governor.StateFile))
		require.NoError(t, err)
		cfg := b.cfg
		cfg.BasePort = governortest.BasePort(basePortStart)
		g2, err := governor.New(cfg)
		require.NoError(t, err)
		require.ErrorIs(t, g2.Start(t.Context()), governor.ErrLocked)
		require.NoError(t, g2.Stop(t.Context()))
		after, err := os.ReadFile(filepath.Join(b.cfg.Dir, governor.StateFile))
		require.NoError(t, err)
		require.Equal(t, string(before), string(after))
	})
	t.Run("FinalStateAfterStop", func(t *testing.T) {
		require.NoError(t, b.g.Stop(t.Context()))
		st, err := governor.ReadState(b.cfg.Dir)
		require.NoError(t, err)
		require.Equal(t, "stopped", st.Governor.State)
		for _, p := range append(st.Nodes, st.Handlers...) {
			require.Zero(t, p.PID, p.ID)
			require.Equal(t, governor.StateStopped, p.State, p.ID)
		}
		_, err = governor.Dial(b.cfg.Dir)
		require.ErrorIs(t, err, governor.ErrNoGovernor)
	})
}

func sameProcesses(a, b governor.Status) bool {
	key := func(s governor.Status) string {
		var parts []string
		for _, p := range append(slices.Clone(s.Nodes), s.Handlers...) {
			parts = append(parts, p.ID+"/"+itoa(p.PID)+"/"+string(p.State))
		}
		return strings.Join(parts, ",")
	}
	return key(a) == key(b)
}

func TestProcessGovernor_Partition(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *governor.Config) {
		c.Nodes, c.Handlers, c.HandlerCommand = 2, 2, "szhandler --servers {servers}"
	})
	ctx := t.Context()
	base := b.cfg.BasePort
	raft1 := "127.0.2.1:" + itoa(base+101)
	h1ToN1 := "127.0.3.1:" + itoa(base+201)
	h2ToN1 := "127.0.3.2:" + itoa(base+201)

	require.NoError(t, b.g.Partition(ctx, [][]string{{"n1"}, {"n2", "h1"}}))
	require.Equal(t, [][2]string{{"n1", "n2"}, {"n1", "h1"}, {"n2", "n1"}, {"h1", "n1"}}, b.status(t).Blocked)

	t.Run("NodeToNodeIsBlackholed", func(t *testing.T) {
		blackholed(t, dialFrom(t, "127.0.1.2", raft1))
	})
	t.Run("HandlerToNodeIsBlackholed", func(t *testing.T) {
		blackholed(t, dialFrom(t, "127.0.0.1", h1ToN1))
		echoes(t, dialFrom(t, "127.0.0.1", h2ToN1), "h2 is not named")
	})
	t.Run("ClientsAreNeverCut", func(t *testing.T) {
		echoes(t, dialFrom(t, "127.0.0.1", raft1), "client")
	})
	t.Run("HealRestores", func(t *testing.T) {
		require.NoError(t, b.g.Heal(ctx))
		require.Empty(t, b.status(t).Blocked)
		echoes(t, dialFrom(t, "127.0.1.2", raft1), "healed")
	})
	t.Run("OneWay", func(t *testing.T) {
		require.NoError(t, b.g.PartitionOneWay(ctx, []string{"n2"}, []string{"n1"}))
		blackholed(t, dialFrom(t, "127.0.1.2", raft1))
		require.NoError(t, b.g.Heal(ctx))
	})
	t.Run("ErrInvalidArgument", func(t *testing.T) {
		require.ErrorIs(t, b.g.Partition(ctx, [][]string{{"n1"}}), governor.ErrInvalidArgument)
		require.ErrorIs(t, b.g.Partition(ctx, [][]string{{"n1"}, {"n7"}}), governor.ErrUnknownProcess)
	})
	t.Run("Timeline", func(t *testing.T) {
		events, err := governor.ReadTimeline(filepath.Join(b.cfg.Dir, governor.TimelineFile))
		require.NoError(t, err)
		i := slices.IndexFunc(events, func(ev governor.TimelineEvent) bool { return ev.Op == "partition" && ev.Error == "" })
		require.GreaterOrEqual(t, i, 0)
		require.Equal(t, [][]string{{"n1"}, {"n2", "h1"}}, events[i].Groups)
		require.Positive(t, events[i].StartMonoNS)
	})
}

func dialFrom(t *testing.T, srcIP, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcIP)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// echoes checks a round trip through a proxy to a fake node's echo port.
func echoes(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(2*time.Second)))
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, msg, string(buf))
}

// blackholed checks that nothing comes back and the connection stays open.
func blackholed(t *testing.T, c net.Conn) {
	t.Helper()
	_, err := c.Write([]byte("ping"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(250*time.Millisecond)))
	n, err := c.Read(make([]byte, 16))
	require.Zero(t, n)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "want a silent open connection, got %v", err)
}

func TestProcessGovernor_Remote(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *governor.Config) { c.Nodes = 2 })
	ctx := t.Context()
	r, err := governor.Dial(b.cfg.Dir)
	require.NoError(t, err)
	defer r.Close()

	t.Run("Status", func(t *testing.T) {
		st, err := r.Status(ctx)
		require.NoError(t, err)
		require.True(t, sameProcesses(st, b.status(t)))
	})
	t.Run("Kill", func(t *testing.T) {
		pid := b.process(t, "n2").PID
		require.NoError(t, r.Kill(ctx, "n2"))
		waitFor(t, 10*time.Second, "n2 restarted", func() bool {
			p := b.process(t, "n2")
			return p.PID != 0 && p.PID != pid && p.State == governor.StateRunning
		})
	})
	t.Run("PartitionAndHeal", func(t *testing.T) {
		require.NoError(t, r.Partition(ctx, [][]string{{"n1"}, {"n2"}}))
		require.Len(t, b.status(t).Blocked, 2)
		require.NoError(t, r.PartitionOneWay(ctx, []string{"n1"}, []string{"n2"}))
		require.Equal(t, [][2]string{{"n1", "n2"}}, b.status(t).Blocked)
		require.NoError(t, r.Heal(ctx))
		require.Empty(t, b.status(t).Blocked)
	})
	t.Run("AddAndRemoveNode", func(t *testing.T) {
		id, err := r.AddNode(ctx)
		require.NoError(t, err)
		require.Equal(t, "n3", id)
		n3 := b.process(t, "n3")
		require.Equal(t, governor.StateRunning, n3.State)
		require.Contains(t, strings.Join(n3.Cmdline, " "), "--join 127.0.2.1:"+itoa(b.cfg.BasePort+1)+",127.0.2.2:"+itoa(b.cfg.BasePort+2))

		require.NoError(t, r.RemoveNode(ctx, "n3"))
		p := b.process(t, "n3")
		require.Equal(t, governor.StateRemoved, p.State)
		require.False(t, pidAlive(n3.PID))
		require.FileExists(t, filepath.Join(b.dataDir("n1"), "removed-n3"), "DELETE went through the first live node")
		_, err = net.DialTimeout("tcp", n3.AdvertiseHTTP, time.Second)
		require.Error(t, err, "the removed node's proxies are closed")
		require.ErrorIs(t, r.Restart(ctx, "n3"), governor.ErrNotRunning)
	})
	t.Run("Errors", func(t *testing.T) {
		require.ErrorIs(t, r.Kill(ctx, "n42"), governor.ErrUnknownProcess)
		require.ErrorIs(t, r.Partition(ctx, [][]string{{"n1"}}), governor.ErrInvalidArgument)
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		resp, err := http.Get("http://" + b.status(t).Governor.ControlAddr + "/v1/status")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})
}

func TestProcessGovernor_Down(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *governor.Config) { c.Nodes = 2 })
	st := b.status(t)
	require.NoError(t, governor.Down(t.Context(), b.cfg.Dir, governor.DownOptions{Logger: testLogger(t)}))
	select {
	case <-b.g.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the governor did not stop")
	}
	for _, p := range st.Nodes {
		require.False(t, pidAlive(p.PID), p.ID)
	}
	recorded, err := governor.ReadState(b.cfg.Dir)
	require.NoError(t, err)
	require.Equal(t, "stopped", recorded.Governor.State)

	t.Run("NothingToStop", func(t *testing.T) {
		require.NoError(t, governor.Down(t.Context(), t.TempDir(), governor.DownOptions{}))
	})
	t.Run("StatusOfStoppedDir", func(t *testing.T) {
		st, live, err := governor.StatusOf(t.Context(), b.cfg.Dir)
		require.NoError(t, err)
		require.False(t, live)
		require.Equal(t, "stopped", st.Governor.State)
	})
}
