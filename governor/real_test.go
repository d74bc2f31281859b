package governor_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/governor"
)

// buildNode compiles the real schedulezero binary into a temporary dir, or
// returns $SZGOV_NODE_BINARY when set (a prebuilt or patched binary).
func buildNode(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("SZGOV_NODE_BINARY"); bin != "" {
		return bin
	}
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-buildvcs=false", "-o", dir+"/",
		"github.com/schedulezero/schedulezero/cmd/schedulezero").CombinedOutput()
	require.NoError(t, err, "build schedulezero:\n%s", out)
	return filepath.Join(dir, "schedulezero")
}

// self asks a node for its view of the cluster on its direct address.
func self(ctx context.Context, addr string) (*client.Self, error) {
	c, err := client.New(addr, client.WithTimeout(time.Second))
	if err != nil {
		return nil, err
	}
	defer c.CloseIdleConnections()
	return c.Self(ctx)
}

func selves(t *testing.T, st governor.Status) map[string]*client.Self {
	out := map[string]*client.Self{}
	for _, n := range st.Nodes {
		if s, err := self(t.Context(), n.HTTPAddr); err == nil {
			out[n.ID] = s
		}
	}
	return out
}

// leaderOf returns the ID of the ready leader among ids, if exactly one.
func leaderOf(views map[string]*client.Self, ids ...string) string {
	var leaders []string
	for _, id := range ids {
		if s := views[id]; s != nil && s.State == "leader" && s.Ready {
			leaders = append(leaders, id)
		}
	}
	if len(leaders) != 1 {
		return ""
	}
	return leaders[0]
}

// TestProcessGovernor_RealCluster runs three real schedulezero processes
// through the governor and injects a leader partition and a follower kill.
func TestProcessGovernor_RealCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test; skipped under -short")
	}
	t.Parallel()
	node := buildNode(t)
	b := setup(t, func(c *governor.Config) {
		c.Nodes, c.NodeBinary, c.RaftProfile = 3, node, "test"
		c.Restart.Initial = 200 * time.Millisecond
		c.ReadyTimeout, c.GracePeriod = 60*time.Second, 10*time.Second
		c.NodeLogLevel = "debug"
	})
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, b.cfg.Dir)
		}
	})
	ids := []string{"n1", "n2", "n3"}
	var leader string
	waitFor(t, 30*time.Second, "one ready leader", func() bool {
		leader = leaderOf(selves(t, b.status(t)), ids...)
		return leader != ""
	})

	t.Run("PartitionedLeaderIsReplaced", func(t *testing.T) {
		var raftConns int64
		for _, n := range b.status(t).Nodes {
			raftConns += n.PeerConns["raft"]
		}
		if raftConns == 0 {
			t.Skip("no node dialled a peer's Raft port from its bind address 127.0.1.i, so partitions cannot cut Raft: " +
				"the server must dial Raft from its bind address (governor/DESIGN.md, \"What the node must do\")")
		}
		oldPID := b.process(t, leader).PID
		oldTerm := selves(t, b.status(t))[leader].Term
		var others []string
		for _, id := range ids {
			if id != leader {
				others = append(others, id)
			}
		}
		require.NoError(t, b.g.Partition(t.Context(), [][]string{{leader}, others}))
		var next string
		waitFor(t, 30*time.Second, "the majority to elect a new leader", func() bool {
			views := selves(t, b.status(t))
			next = leaderOf(views, others...)
			return next != "" && views[next].Term > oldTerm
		})
		waitFor(t, 10*time.Second, "the old leader to stop being a ready leader", func() bool {
			s, err := self(t.Context(), b.process(t, leader).HTTPAddr)
			return err == nil && !(s.State == "leader" && s.Ready)
		})
		old := b.process(t, leader)
		require.Equal(t, oldPID, old.PID, "a partitioned process keeps running")
		require.Equal(t, governor.StateRunning, old.State)
		createSchedule(t, b.process(t, next).HTTPAddr, "written-during-partition")

		require.NoError(t, b.g.Heal(t.Context()))
		leader = next
	})
	t.Run("ReplicasConverge", func(t *testing.T) {
		createSchedule(t, b.process(t, leader).HTTPAddr, "written-after-heal")
		waitFor(t, 30*time.Second, "same digest at the same applied index everywhere", func() bool {
			views := selves(t, b.status(t))
			if len(views) != 3 || leaderOf(views, ids...) == "" {
				return false
			}
			first := views["n1"]
			for _, s := range views {
				if s.Digest == "" || s.Digest != first.Digest || s.AppliedIndex != first.AppliedIndex {
					return false
				}
			}
			return true
		})
	})
	t.Run("KilledFollowerIsRestarted", func(t *testing.T) {
		views := selves(t, b.status(t))
		leader = leaderOf(views, ids...)
		require.NotEmpty(t, leader)
		follower := "n1"
		if leader == follower {
			follower = "n2"
		}
		before := b.process(t, follower)
		require.NoError(t, b.g.Kill(t.Context(), follower))
		waitFor(t, 30*time.Second, follower+" restarted and ready", func() bool {
			p := b.process(t, follower)
			if p.PID == 0 || p.PID == before.PID || p.State != governor.StateRunning {
				return false
			}
			s, err := self(t.Context(), p.HTTPAddr)
			return err == nil && s.Ready
		})
		require.Equal(t, before.Restarts+1, b.process(t, follower).Restarts)
	})
	t.Run("DownLeavesNoProcess", func(t *testing.T) {
		st := b.status(t)
		require.NoError(t, governor.Down(t.Context(), b.cfg.Dir, governor.DownOptions{Logger: testLogger(t)}))
		<-b.g.Done()
		for _, n := range st.Nodes {
			require.False(t, pidAlive(n.PID), "%s pid %d", n.ID, n.PID)
		}
		requireAllGone(t, b.cfg.Dir)
	})
}

// createSchedule creates a schedule through the node at addr (any node
// forwards to the leader) and requires a 2xx.
func createSchedule(t *testing.T, addr, id string) {
	t.Helper()
	body := `{"id":"` + id + `","handler":"governor-test","method":"noop","trigger":{"every":"1h"}}`
	var last string
	waitFor(t, 15*time.Second, "schedule "+id+" to be created", func() bool {
		resp, err := http.Post("http://"+addr+"/v1/schedules", "application/json", strings.NewReader(body))
		if err != nil {
			last = err.Error()
			return false
		}
		resp.Body.Close()
		last = resp.Status
		return resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusConflict
	})
	t.Logf("created %s: %s", id, last)
}

func logTails(t *testing.T, dir string) {
	for _, id := range []string{"n1", "n2", "n3"} {
		b, err := readTail(filepath.Join(dir, "nodes", id, "node.log"), 3000)
		if err == nil {
			t.Logf("---- %s node.log (tail) ----\n%s", id, b)
		}
	}
}
