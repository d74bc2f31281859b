package bench

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

func TestNew_Defaults(t *testing.T) {
	t.Parallel()

	t.Run("Full", func(t *testing.T) {
		t.Parallel()
		r, err := New(Config{})
		require.NoError(t, err)
		c := r.Config()
		require.Equal(t, AllScenarios, c.Scenarios)
		require.Equal(t, DefaultDuration, c.Duration)
		require.Equal(t, DefaultWarmup, c.Warmup)
		require.Equal(t, DefaultScaleSchedules, c.Schedules)
		require.Equal(t, DefaultFailoverTrials, c.FailoverTrials)
		require.Equal(t, float64(DefaultThroughputRate), c.rateFor(ScenarioThroughput))
		require.Equal(t, float64(DefaultLatencyRate), c.rateFor(ScenarioLatency))
		require.Equal(t, ProfileDefault, c.RaftProfile)
		require.Equal(t, DefaultBasePort, c.BasePort)
		require.Equal(t, DefaultBinDir, c.BinDir)
		require.Equal(t, OutputText, c.Output)
		require.Equal(t, 3, c.Nodes)
	})

	t.Run("Short", func(t *testing.T) {
		t.Parallel()
		r, err := New(Config{Short: true})
		require.NoError(t, err)
		c := r.Config()
		require.Equal(t, ShortDuration, c.Duration)
		require.Equal(t, ShortWarmup, c.Warmup)
		require.Equal(t, ShortScaleSchedules, c.Schedules)
		require.Equal(t, ShortFailoverTrials, c.FailoverTrials)
		require.Equal(t, float64(ShortThroughputRate), c.rateFor(ScenarioThroughput))
		require.Equal(t, float64(ShortLatencyRate), c.rateFor(ScenarioLatency))
		require.Equal(t, ShortIdleWindow, c.IdleWindow)
	})

	t.Run("RateOverridesBoth", func(t *testing.T) {
		t.Parallel()
		r, err := New(Config{Rate: 123})
		require.NoError(t, err)
		require.Equal(t, 123.0, r.Config().rateFor(ScenarioThroughput))
		require.Equal(t, 123.0, r.Config().rateFor(ScenarioLatency))
	})
}

func TestNew_Invalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"UnknownScenario", Config{Scenarios: []string{"speed"}}, "--scenario"},
		{"DuplicateScenario", Config{Scenarios: []string{ScenarioScale, ScenarioScale}}, "twice"},
		{"ShortDuration", Config{Duration: 500 * time.Millisecond}, "--duration"},
		{"NegativeWarmup", Config{Warmup: -time.Second}, "--warmup"},
		{"NegativeRate", Config{Rate: -1}, "--rate"},
		{"SubSecondInterval", Config{Interval: 500 * time.Millisecond}, "--interval"},
		{"NegativeSchedules", Config{Schedules: -5}, "--schedules"},
		{"TooManyHandlers", Config{Handlers: 65}, "--handlers"},
		{"TooManyNodes", Config{Nodes: 10}, "--nodes"},
		{"TestProfile", Config{RaftProfile: "test"}, "--raft-profile"},
		{"LowPort", Config{BasePort: 80}, "--base-port"},
		{"HighPort", Config{BasePort: 65300}, "--base-port"},
		{"BadOutput", Config{Output: "yaml"}, "-o"},
		{"RatePlanTooLarge", Config{Rate: 1e7, Interval: time.Hour, Scenarios: []string{ScenarioThroughput}}, "throughput"},
		{"TargetWithFailover", Config{Target: "127.0.0.1:8888", Scenarios: []string{ScenarioFailover}}, "--target"},
		{"BadTarget", Config{Target: "ftp://x", Scenarios: []string{ScenarioLatency}}, "--target"},
		{"FailoverOnTwoNodes", Config{Nodes: 2, Scenarios: []string{ScenarioFailover}}, "--nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			require.Contains(t, err.Error(), tt.want)
		})
	}

	t.Run("TargetWithoutFailoverOK", func(t *testing.T) {
		t.Parallel()
		_, err := New(Config{Target: "127.0.0.1:8888", Scenarios: []string{ScenarioLatency, ScenarioScale}})
		require.NoError(t, err)
	})
}

func TestParseFlags(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseFlags([]string{"--scenario", "scale,latency", "--duration", "10s", "--warmup=2s", "--schedules", "5000",
			"--rate", "750", "--interval", "2s", "--handlers", "3", "--nodes", "5", "--raft-profile", "fast",
			"--base-port", "41000", "--data-dir", "/tmp/x", "--bin-dir", "/opt/bin", "--failover-trials", "7",
			"--failover-schedules", "50", "--idle-window", "4s", "--capacity", "99", "--create-clients", "2",
			"--baseline-commits", "300", "-o", "json", "--short"}, io.Discard)
		require.NoError(t, err)
		require.Equal(t, Config{
			Scenarios: []string{ScenarioLatency, ScenarioScale}, Duration: 10 * time.Second, Warmup: 2 * time.Second,
			Schedules: 5000, Rate: 750, Interval: 2 * time.Second, Handlers: 3, Nodes: 5, RaftProfile: ProfileFast,
			BasePort: 41000, DataDir: "/tmp/x", BinDir: "/opt/bin", FailoverTrials: 7, FailoverSchedules: 50,
			IdleWindow: 4 * time.Second, Capacity: 99, CreateClients: 2, BaselineCommits: 300, Output: OutputJSON, Short: true,
		}, cfg)
		_, err = New(cfg)
		require.NoError(t, err)
	})

	t.Run("DefaultsToAll", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseFlags(nil, io.Discard)
		require.NoError(t, err)
		require.Equal(t, AllScenarios, cfg.Scenarios)
		require.Equal(t, OutputText, cfg.Output)
	})

	t.Run("Help", func(t *testing.T) {
		t.Parallel()
		var out strings.Builder
		_, err := ParseFlags([]string{"--help"}, &out)
		require.True(t, errors.Is(err, pflag.ErrHelp))
		require.Contains(t, out.String(), "--raft-profile")
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"--scenario", "nope"}, {"--scenario", ","}, {"extra"}, {"--duration", "x"}} {
			_, err := ParseFlags(args, io.Discard)
			require.Error(t, err, args)
		}
	})
}

func TestParseScenarios(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"all":                          AllScenarios,
		"scale,throughput":             {ScenarioThroughput, ScenarioScale},
		" Failover , latency,failover": {ScenarioLatency, ScenarioFailover},
		"latency,all":                  AllScenarios,
	} {
		got, err := parseScenarios(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}
