package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// buildNode builds schedulezero into a temporary directory.
func buildNode(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "../../cmd/schedulezero")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build schedulezero: %s", out)
	return dir
}

// TestRun_LatencySmoke runs a tiny latency scenario on a real 3-node
// cluster through the governor and checks that the report is sane. It
// asserts nothing about timing: the numbers of a loaded CI machine mean
// nothing.
func TestRun_LatencySmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	bin := buildNode(t)
	r, err := New(Config{
		Scenarios: []string{ScenarioLatency}, Rate: 50, Duration: 3 * time.Second, Warmup: time.Second,
		Handlers: 1, BasePort: 41000, BinDir: bin, DataDir: t.TempDir(), BaselineCommits: 100, Output: OutputJSON,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := r.Run(ctx)
	require.NoError(t, err)

	var buf bytes.Buffer
	require.NoError(t, rep.WriteJSON(&buf))
	var m struct {
		FiresPerSec   *float64 `json:"fires_per_sec"`
		DispatchP50MS *float64 `json:"dispatch_p50_ms"`
		DispatchP99MS *float64 `json:"dispatch_p99_ms"`
		Baseline      *float64 `json:"baseline_raft_commits_per_sec"`
		Scenarios     struct {
			Latency    *RateResult `json:"latency"`
			Throughput *RateResult `json:"throughput"`
		} `json:"scenarios"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m), buf.String())
	require.Nil(t, m.FiresPerSec, "throughput did not run")
	require.Nil(t, m.Scenarios.Throughput)
	require.NotNil(t, m.DispatchP50MS)
	require.Positive(t, *m.DispatchP50MS)
	require.GreaterOrEqual(t, *m.DispatchP99MS, *m.DispatchP50MS)
	require.NotNil(t, m.Baseline)
	require.Positive(t, *m.Baseline)
	l := m.Scenarios.Latency
	require.NotNil(t, l)
	require.Empty(t, l.Error)
	require.Equal(t, 50, l.Schedules)
	require.Positive(t, l.Completed)
	require.Positive(t, l.FiresPerSec)
	require.Positive(t, l.Dispatch.Count)
	require.NotEmpty(t, l.Leader)
}
