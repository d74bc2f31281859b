package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/schedulezero/schedulezero/cluster"
	"github.com/schedulezero/schedulezero/fsm"
	"github.com/schedulezero/schedulezero/internal/clock"
)

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	valid := func() cluster.Config {
		return cluster.Config{NodeID: "n1", DataDir: t.TempDir(), RaftBind: "127.0.0.1:0", HTTPAdvertise: "127.0.0.1:8888"}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*cluster.Config)
		field string
	}{
		{"NoNodeID", func(c *cluster.Config) { c.NodeID = "" }, "NodeID"},
		{"SlashInNodeID", func(c *cluster.Config) { c.NodeID = "a/b" }, "NodeID"},
		{"NoDataDir", func(c *cluster.Config) { c.DataDir = "" }, "DataDir"},
		{"NoHTTP", func(c *cluster.Config) { c.HTTPAdvertise = "" }, "HTTPAdvertise"},
		{"BadBind", func(c *cluster.Config) { c.RaftBind = "nope" }, "RaftBind"},
		{"AdvertiseUnspecified", func(c *cluster.Config) { c.RaftAdvertise = "0.0.0.0:4243" }, "RaftAdvertise"},
		{"AdvertisePortZero", func(c *cluster.Config) { c.RaftAdvertise = "10.0.0.1:0" }, "RaftAdvertise"},
		{"BadProfile", func(c *cluster.Config) { c.Profile = "turbo" }, "Profile"},
		{"NegativeBatch", func(c *cluster.Config) { c.MaxBatchEvents = -1 }, "MaxBatchEvents"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.edit(&cfg)
			_, err := cluster.New(cfg)
			require.ErrorIs(t, err, cluster.ErrInvalidConfig)
			require.ErrorContains(t, err, tc.field)
		})
	}
	t.Run("OK", func(t *testing.T) {
		_, err := cluster.New(valid())
		require.NoError(t, err)
	})
}

func TestNode_Lifecycle(t *testing.T) {
	t.Parallel()
	t.Run("NotStarted", func(t *testing.T) {
		tn := newTestNode(t, "n1")
		n, err := cluster.New(tn.config(true))
		require.NoError(t, err)
		_, err = n.Propose(context.Background(), createEvent("a"))
		require.ErrorIs(t, err, cluster.ErrStopped)
		require.Equal(t, "shutdown", n.Self().State)
		require.False(t, n.Ready())
		require.NoError(t, n.Stop(context.Background()))
		require.NoError(t, n.Stop(context.Background()))
		require.ErrorIs(t, n.Start(context.Background()), cluster.ErrStopped)
	})
	t.Run("Unbootstrapped", func(t *testing.T) {
		tn := newTestNode(t, "n1")
		n := tn.start(false)
		require.NoError(t, n.Start(context.Background()), "Start is idempotent")
		s := n.Self()
		require.False(t, s.Member)
		require.False(t, s.Ready)
		require.Equal(t, "follower", s.State)
		_, err := n.Propose(context.Background(), createEvent("a"))
		require.ErrorIs(t, err, cluster.ErrNoLeader)
		require.ErrorIs(t, n.Leave(context.Background()), cluster.ErrNotMember)
		tn.stop()
		_, err = n.Propose(context.Background(), createEvent("a"))
		require.ErrorIs(t, err, cluster.ErrStopped)
	})
}

// Test 1: single node bootstrap, propose, read back, restart from the data
// dir, node-id mismatch.
func TestNode_SingleNode(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Date(2026, 11, 28, 1, 30, 0, 0, time.FixedZone("CET", 3600)))
	tn := newTestNode(t, "n1", func(c *cluster.Config) { c.Clock = fake })
	n := tn.start(true)
	waitLeader(t, []*testNode{tn})
	require.True(t, recv(t, n.LeadershipChanges()))
	require.True(t, n.IsLeader())
	require.Equal(t, cluster.LeaderInfo{ID: "n1", HTTPAddr: tn.httpAddr}, n.Leader())
	info, ok := n.FSM().Node("n1")
	require.True(t, ok)
	require.Equal(t, fsm.NodeInfo{ID: "n1", HTTPAddr: tn.httpAddr, RaftAddr: tn.raftAddr, ZMQAddr: "tcp://127.0.0.1:4242"}, info)

	t.Run("ProposeAndRead", func(t *testing.T) {
		ctx := ctxTimeout(t, 10*time.Second)
		res, err := n.Propose(ctx, createEvent("a"), createEvent("b"), createEvent("a"))
		require.NoError(t, err)
		require.Len(t, res, 3)
		require.NoError(t, res[0].Err)
		require.NoError(t, res[1].Err)
		require.ErrorIs(t, res[2].Err, fsm.ErrExists)
		require.Equal(t, res[0].Index, res[1].Index, "one call is one entry")
		require.True(t, fake.Now().Equal(res[0].Schedule.CreatedAt), "the leader stamps At from its clock")
		require.Equal(t, time.UTC, res[0].Schedule.CreatedAt.Location())
		require.NoError(t, n.LinearizableRead(ctx))
		s, ok := n.FSM().Get("b")
		require.True(t, ok)
		require.Equal(t, uint64(1), s.Version)
		empty, err := n.Propose(ctx)
		require.NoError(t, err)
		require.Empty(t, empty)
	})

	before := n.Self()
	require.Equal(t, 2, before.Schedules)
	tn.stop()

	t.Run("Restart", func(t *testing.T) {
		n := tn.start(true) // Bootstrap is ignored: state exists
		waitLeader(t, []*testNode{tn})
		waitUntil(t, func() error {
			if s := n.Self(); s.AppliedIndex < before.AppliedIndex || s.Digest != before.Digest {
				return fmt.Errorf("at %d/%s, want ≥ %d/%s", s.AppliedIndex, s.Digest, before.AppliedIndex, before.Digest)
			}
			return nil
		})
		_, ok := n.FSM().Get("a")
		require.True(t, ok)
		require.Greater(t, n.Self().Term, before.Term)
		tn.stop()
	})

	t.Run("ErrNodeIDMismatch", func(t *testing.T) {
		cfg := tn.config(false)
		cfg.NodeID = "other"
		other, err := cluster.New(cfg)
		require.NoError(t, err)
		err = other.Start(context.Background())
		require.ErrorIs(t, err, cluster.ErrInvalidConfig)
		require.ErrorContains(t, err, `belongs to node "n1"`)
		require.NoError(t, other.Stop(context.Background()))
	})
}

func TestNode_ErrorsOnFollowerAndNonLeader(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t, "n1")
	n := tn.start(false)
	ctx := ctxTimeout(t, 5*time.Second)
	for name, err := range map[string]error{
		"LinearizableRead":   n.LinearizableRead(ctx),
		"AddMember":          n.AddMember(ctx, cluster.JoinRequest{ID: "n2", RaftAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2"}),
		"RemoveMember":       n.RemoveMember(ctx, "n2"),
		"TransferLeadership": n.TransferLeadership(ctx, ""),
		"RestoreSnapshot":    n.RestoreSnapshot(ctx, nil),
	} {
		require.ErrorIs(t, err, cluster.ErrNoLeader, name)
	}
	err := n.AddMember(ctx, cluster.JoinRequest{ID: "n2"})
	require.ErrorIs(t, err, cluster.ErrInvalidRequest)
	_, err = n.Members(ctx)
	require.NoError(t, err)
	require.ErrorIs(t, n.JoinCluster(ctx, "ftp://x"), cluster.ErrInvalidRequest)
}
