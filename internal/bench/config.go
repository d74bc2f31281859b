package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/client"
	"github.com/schedulezero/schedulezero/internal/clock"
)

// Scenario names (Config.Scenarios, --scenario).
const (
	ScenarioThroughput = "throughput"
	ScenarioLatency    = "latency"
	ScenarioFailover   = "failover"
	ScenarioScale      = "scale"
	// ScenarioAll selects every scenario, in the order of AllScenarios.
	ScenarioAll = "all"
)

// AllScenarios lists the scenarios in the order they run.
var AllScenarios = []string{ScenarioThroughput, ScenarioLatency, ScenarioFailover, ScenarioScale}

// Output formats (Config.Output, -o).
const (
	OutputText = "text"
	OutputJSON = "json"
)

// Raft profiles a governor-started cluster may use (--raft-profile).
const (
	ProfileDefault = "default"
	ProfileFast    = "fast"
)

// Defaults of the full run; Short* are those of --short (make bench).
const (
	DefaultThroughputRate = 10_000
	DefaultLatencyRate    = 1_000
	DefaultDuration       = 60 * time.Second
	DefaultWarmup         = 10 * time.Second
	DefaultScaleSchedules = 1_000_000
	DefaultFailoverTrials = 5
	DefaultIdleWindow     = 10 * time.Second
	DefaultInterval       = time.Second
	DefaultHandlers       = 2
	DefaultCapacity       = 4096
	DefaultNodes          = 3
	DefaultBasePort       = 40000
	DefaultBinDir         = "./bin"
	DefaultCreateClients  = 4
	DefaultBaseline       = 2000
	// DefaultFailoverSchedules schedules every DefaultInterval give a fire
	// every 10 ms.
	DefaultFailoverSchedules = 100

	// The short run keeps the target rates and shortens the rest.
	ShortThroughputRate = DefaultThroughputRate
	ShortLatencyRate    = DefaultLatencyRate
	ShortDuration       = 10 * time.Second
	ShortWarmup         = 3 * time.Second
	ShortScaleSchedules = 100_000
	ShortFailoverTrials = 2
	ShortIdleWindow     = 5 * time.Second
	ShortBaseline       = 500
)

// ErrInvalidConfig is returned (wrapped) for a Config New cannot use.
var ErrInvalidConfig = errors.New("bench: invalid config")

// Config is one szbench run. Zero fields take the defaults above (the
// Short* ones when Short is set); ParseFlags maps the command line onto it.
type Config struct {
	// Scenarios to run, in AllScenarios order; empty means all.
	Scenarios []string
	// Duration is the measurement window of throughput and latency.
	Duration time.Duration
	// Warmup runs the workload before the window opens.
	Warmup time.Duration
	// Rate is the fires/s of throughput and latency (0: each scenario's
	// default).
	Rate float64
	// Interval is the every-interval of the fire schedules; the planner
	// creates Rate×Interval schedules, spread evenly over the interval.
	Interval time.Duration
	// Schedules is the number of idle schedules of the scale scenario.
	Schedules int
	// FailoverSchedules fire every Interval during the failover scenario.
	FailoverSchedules int
	// FailoverTrials is the number of kill -9 trials.
	FailoverTrials int
	// IdleWindow is how long the scale scenario samples idle CPU.
	IdleWindow time.Duration
	// Handlers is the number of handler instances run in-process, each
	// with Capacity concurrent jobs.
	Handlers int
	Capacity int
	// Nodes, RaftProfile, BasePort, DataDir and BinDir describe the
	// cluster szbench starts. DataDir "" uses a temporary directory that
	// is removed afterwards.
	Nodes       int
	RaftProfile string
	BasePort    int
	DataDir     string
	BinDir      string
	// Target is the HTTP address of a member of an existing cluster to
	// use instead of starting one; failover (and the follower part of
	// scale) need a governor-started cluster and are refused or skipped.
	Target string
	// CreateClients is the number of concurrent batch-create requests.
	CreateClients int
	// BaselineCommits is the number of commits of the baseline.
	BaselineCommits int
	// Output is OutputText or OutputJSON.
	Output string
	// Short selects the short defaults (make bench).
	Short bool
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Clock reads the time; default clock.Real{}.
	Clock clock.Clock
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	pick := func(full, short time.Duration) time.Duration {
		if c.Short {
			return short
		}
		return full
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = slices.Clone(AllScenarios)
	}
	c.Duration = orDur(c.Duration, pick(DefaultDuration, ShortDuration))
	c.Warmup = orDur(c.Warmup, pick(DefaultWarmup, ShortWarmup))
	c.IdleWindow = orDur(c.IdleWindow, pick(DefaultIdleWindow, ShortIdleWindow))
	c.Interval = orDur(c.Interval, DefaultInterval)
	c.Schedules = orInt(c.Schedules, shortOr(c.Short, DefaultScaleSchedules, ShortScaleSchedules))
	c.FailoverTrials = orInt(c.FailoverTrials, shortOr(c.Short, DefaultFailoverTrials, ShortFailoverTrials))
	c.BaselineCommits = orInt(c.BaselineCommits, shortOr(c.Short, DefaultBaseline, ShortBaseline))
	c.FailoverSchedules = orInt(c.FailoverSchedules, DefaultFailoverSchedules)
	c.Handlers = orInt(c.Handlers, DefaultHandlers)
	c.Capacity = orInt(c.Capacity, DefaultCapacity)
	c.Nodes = orInt(c.Nodes, DefaultNodes)
	c.BasePort = orInt(c.BasePort, DefaultBasePort)
	c.CreateClients = orInt(c.CreateClients, DefaultCreateClients)
	if c.RaftProfile == "" {
		c.RaftProfile = ProfileDefault
	}
	if c.BinDir == "" {
		c.BinDir = DefaultBinDir
	}
	if c.Output == "" {
		c.Output = OutputText
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}

// rateFor is the fires/s of a rate scenario: Config.Rate, else the
// scenario's default.
func (c Config) rateFor(scenario string) float64 {
	if c.Rate > 0 {
		return c.Rate
	}
	if scenario == ScenarioLatency {
		return float64(shortOr(c.Short, DefaultLatencyRate, ShortLatencyRate))
	}
	return float64(shortOr(c.Short, DefaultThroughputRate, ShortThroughputRate))
}

// validate checks a defaulted Config.
func (c Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	seen := map[string]bool{}
	for _, s := range c.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return bad("--scenario %q: want %s or %s", s, strings.Join(AllScenarios, ", "), ScenarioAll)
		}
		if seen[s] {
			return bad("--scenario %q given twice", s)
		}
		seen[s] = true
	}
	switch {
	case c.Duration < time.Second:
		return bad("--duration %s: must be at least 1s", c.Duration)
	case c.Warmup < 0:
		return bad("--warmup %s: must not be negative", c.Warmup)
	case c.Rate < 0:
		return bad("--rate %g: must not be negative", c.Rate)
	case c.Interval < time.Second:
		return bad("--interval %s: every triggers need at least 1s", c.Interval)
	case c.Schedules < 1:
		return bad("--schedules %d: must be positive", c.Schedules)
	case c.FailoverSchedules < 1:
		return bad("--failover-schedules %d: must be positive", c.FailoverSchedules)
	case c.FailoverTrials < 1:
		return bad("--failover-trials %d: must be positive", c.FailoverTrials)
	case c.IdleWindow < time.Second:
		return bad("--idle-window %s: must be at least 1s", c.IdleWindow)
	case c.Handlers < 1 || c.Handlers > 64:
		return bad("--handlers %d: must be 1..64", c.Handlers)
	case c.Capacity < 1:
		return bad("--capacity %d: must be positive", c.Capacity)
	case c.Nodes < 1 || c.Nodes > 9:
		return bad("--nodes %d: must be 1..9", c.Nodes)
	case c.RaftProfile != ProfileDefault && c.RaftProfile != ProfileFast:
		return bad("--raft-profile %q: want %s or %s", c.RaftProfile, ProfileDefault, ProfileFast)
	case c.BasePort < 1024 || c.BasePort+300 > 65535:
		return bad("--base-port %d: must be 1024..65235", c.BasePort)
	case c.CreateClients < 1 || c.CreateClients > 64:
		return bad("--create-clients %d: must be 1..64", c.CreateClients)
	case c.BaselineCommits < 1:
		return bad("--baseline-commits %d: must be positive", c.BaselineCommits)
	case c.Output != OutputText && c.Output != OutputJSON:
		return bad("-o %q: want %s or %s", c.Output, OutputText, OutputJSON)
	}
	for _, s := range c.Scenarios {
		if _, err := PlanRate(c.rateFor(s), c.Interval); (s == ScenarioThroughput || s == ScenarioLatency) && err != nil {
			return bad("%s: %v", s, err)
		}
	}
	if c.Target != "" {
		if _, err := client.NormalizeAddr(c.Target); err != nil {
			return bad("--target %q: %v", c.Target, err)
		}
		if seen[ScenarioFailover] {
			return bad("--scenario failover kills processes and needs the cluster szbench starts, not --target")
		}
	}
	if seen[ScenarioFailover] && c.Nodes < 3 {
		return bad("--scenario failover needs --nodes 3 or more (a majority must survive the leader)")
	}
	return nil
}

func orDur(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func shortOr(short bool, full, s int) int {
	if short {
		return s
	}
	return full
}
