package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// sampleReport is a report with every scenario filled in and a fixed
// machine, as the golden file shows it.
func sampleReport(t *testing.T) *Report {
	t.Helper()
	r, err := New(Config{Short: true, Output: OutputJSON})
	require.NoError(t, err)
	rep := newReport(r.Config(), time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	rep.Machine = Machine{Cores: 2, GOMAXPROCS: 2, GoVersion: "go1.26.8", OS: "linux", Arch: "amd64", Kernel: "6.1.0", CPUModel: "Test CPU"}
	base := &Baseline{CommitsPerSec: 400, Commits: 500, Concurrency: 1, PayloadBytes: 256, ElapsedMS: 1250, P50MS: 2.1, P99MS: 6.4}
	rep.Scenarios.Throughput = &RateResult{Baseline: base, Leader: "n1", Rate: 10000, Schedules: 10000, IntervalS: 1, SpacingMS: 0.1,
		CreateSeconds: 1.4, WindowS: 10, Completed: 98000, FiresPerSec: 9800, RatioVsBaseline: ptr(24.5), Accepted: 98100,
		LeaderFiresPerSec: ptr(9990.0), LeaderResultsPerSec: ptr(9805.0),
		Dispatch: Summary{Count: 98100, Min: 0.8, Mean: 3.2, P50: 2.5, P90: 5, P99: 12, Max: 40}}
	rep.Scenarios.Latency = &RateResult{Baseline: base, Leader: "n2", Rate: 1000, Schedules: 1000, IntervalS: 1, SpacingMS: 1,
		CreateSeconds: 0.1, WindowS: 10, Completed: 10000, FiresPerSec: 1000, RatioVsBaseline: ptr(2.5), Accepted: 10000,
		Dispatch: Summary{Count: 10000, Min: 0.5, Mean: 1.5, P50: 1.2, P90: 2.5, P99: 8, Max: 20}}
	rep.Scenarios.Failover = &FailoverResult{Baseline: base, RaftProfile: "default", Schedules: 100, SpacingMS: 10,
		GapMedianMS: ptr(1400.0), GapMinMS: ptr(1200.0), GapMaxMS: ptr(1600.0), GapsMS: []float64{1200, 1600},
		Trials: []FailoverTrial{
			{Killed: "n1", NewLeader: "n2", OldTerm: 2, NewTerm: 3, GapMS: 1200, MaxFireLatenessMS: 1210},
			{Killed: "n2", NewLeader: "n3", OldTerm: 3, NewTerm: 4, GapMS: 1600, MaxFireLatenessMS: 1590},
		},
		Graceful: &GracefulTrial{Stopped: "n3", NewLeader: "n1", OldTerm: 4, NewTerm: 5, HandoverMS: 40, GapMS: 35, MaxFireLatenessMS: 30}}
	rep.Scenarios.Scale = &ScaleResult{Baseline: base, Leader: "n1", Schedules: 100000, Created: 100000, CreateSeconds: 8, CreatesPerSec: 12500,
		RSSBeforeBytes: 20 << 20, RSSAfterBytes: 120 << 20, RSSBytesPerSchedule: ptr(1048.576), HeapBeforeBytes: 8 << 20,
		HeapAfterBytes: 58 << 20, HeapBytesPerSchedule: ptr(524.288), IdleCPUPercent: ptr(0.4), IdleCPUBeforePercent: ptr(0.3), IdleWindowS: 5, IdleSettleS: 3.2,
		SnapshotMS: ptr(300.0), SnapshotBytes: 40 << 20, RestoreMS: ptr(900.0),
		Follower: &CatchUp{Node: "n2", CatchupMS: ptr(1500.0), IndexAtStop: 612, LeaderSnapshots: 2, CompactedPastFollower: true,
			SnapshotInstalled: ptr(true)},
		SnapshotThreshold: 50, TrailingLogs: 25}
	rep.ElapsedS = 180
	rep.summarize()
	return rep
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	require.Equal(t, string(want), string(got))
}

func TestReport_JSONGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, sampleReport(t).WriteJSON(&buf))
	golden(t, "report.golden.json", buf.Bytes())
}

func TestReport_TextGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, sampleReport(t).WriteText(&buf))
	golden(t, "report.golden.txt", buf.Bytes())
}

// requiredFields are the top-level fields issue 5 asks for.
var requiredFields = []string{"fires_per_sec", "dispatch_p50_ms", "dispatch_p99_ms", "failover_gap_ms", "schedules",
	"rss_bytes_per_schedule", "snapshot_ms", "restore_ms", "baseline_raft_commits_per_sec", "ratio_vs_baseline",
	"params", "machine", "scenarios"}

func TestReport_Shape(t *testing.T) {
	t.Parallel()

	t.Run("Full", func(t *testing.T) {
		t.Parallel()
		var m map[string]any
		b, err := json.Marshal(sampleReport(t))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &m))
		for _, f := range requiredFields {
			require.Contains(t, m, f)
			require.NotNil(t, m[f], f)
		}
		require.Equal(t, 9800.0, m["fires_per_sec"])
		require.Equal(t, 24.5, m["ratio_vs_baseline"])
		require.Equal(t, 1.2, m["dispatch_p50_ms"], "from the latency scenario")
		require.Equal(t, 1400.0, m["failover_gap_ms"])
		require.Equal(t, 35.0, m["graceful_gap_ms"])
		require.Equal(t, 400.0, m["baseline_raft_commits_per_sec"])
	})

	t.Run("NothingRan", func(t *testing.T) {
		t.Parallel()
		rep := newReport(Config{}.withDefaults(), time.Unix(0, 0))
		rep.summarize()
		var m map[string]any
		b, err := json.Marshal(rep)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &m))
		for _, f := range requiredFields {
			require.Contains(t, m, f)
		}
		for _, f := range []string{"fires_per_sec", "dispatch_p50_ms", "failover_gap_ms", "schedules", "snapshot_ms",
			"baseline_raft_commits_per_sec", "ratio_vs_baseline"} {
			require.Nil(t, m[f], f)
		}
		require.Equal(t, map[string]any{"throughput": nil, "latency": nil, "failover": nil, "scale": nil}, m["scenarios"])
	})

	t.Run("ScaleKeepsFiguresMeasuredBeforeAFailure", func(t *testing.T) {
		t.Parallel()
		rep := sampleReport(t)
		rep.Scenarios.Scale.Error, rep.Scenarios.Scale.RestoreMS = "restore failed", nil
		rep.RestoreMS = nil
		rep.summarize()
		require.Equal(t, 100000, *rep.Schedules)
		require.NotNil(t, rep.SnapshotMS)
		require.Nil(t, rep.RestoreMS)
		require.Equal(t, []string{"scale: restore failed"}, rep.errors())
	})

	t.Run("FailedScenarioHasNoHeadline", func(t *testing.T) {
		t.Parallel()
		rep := sampleReport(t)
		rep.Scenarios.Throughput.Error = "boom"
		rep.Scenarios.Latency = nil
		rep.FiresPerSec, rep.DispatchP50MS = nil, nil
		rep.summarize()
		require.Nil(t, rep.FiresPerSec)
		require.Nil(t, rep.DispatchP50MS)
		require.Equal(t, []string{"throughput: boom"}, rep.errors())
		var buf strings.Builder
		require.NoError(t, rep.WriteText(&buf))
		require.Contains(t, buf.String(), "ERROR: boom")
	})
}
