package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestServer_Stop checks the graceful stop of a single-node server: it
// becomes ready, serves the API, and stops promptly even while an idle
// client connection that never sent a request is open.
func TestServer_Stop(t *testing.T) {
	cfg := Defaults()
	cfg.NodeID = "n1"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTPAddr, cfg.RaftAddr, cfg.ZMQAddr = freeAddr(t), freeAddr(t), "tcp://"+freeAddr(t)
	cfg.Bootstrap = true
	cfg.RaftProfile = "test"
	s, err := New(cfg, io.Discard)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	require.NoError(t, s.Start(ctx), "Start is idempotent")
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + s.HTTPAddr() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond)

	// One registry serves the cluster, dispatch and process metrics.
	resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	for _, name := range []string{"sz_raft_is_leader", "sz_raft_snapshot_persist_seconds_count", "sz_raft_restore_seconds_count",
		"sz_raft_snapshot_installs_total", "sz_dispatch_outstanding", "go_goroutines"} {
		require.Contains(t, string(body), name)
	}

	idle, err := net.Dial("tcp", s.HTTPAddr())
	require.NoError(t, err)
	defer idle.Close()
	start := time.Now()
	require.NoError(t, s.Stop(ctx))
	require.Less(t, time.Since(start), 4*time.Second, "an idle connection must not hold up the stop")
	require.NoError(t, s.Stop(ctx), "Stop is idempotent")
}
