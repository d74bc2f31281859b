package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// Name is the program name used in messages.
const Name = "szbench"

// ParseFlags maps the szbench command line onto a Config. The Config is
// not defaulted or validated here: New does both. Help goes to usage and
// returns pflag.ErrHelp.
func ParseFlags(args []string, usage io.Writer) (Config, error) {
	var c Config
	var scenario string
	fs := pflag.NewFlagSet(Name, pflag.ContinueOnError)
	fs.SetOutput(usage)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: %s [--scenario throughput|latency|failover|scale|all] [flags]\n\n"+
			"Starts a local ScheduleZero cluster through the governor (or uses --target),\n"+
			"runs handlers in-process, drives the scenarios and prints a summary; with\n"+
			"-o json one JSON object on stdout (the summary then goes to stderr).\n\nFlags:\n%s",
			Name, fs.FlagUsages())
	}
	fs.StringVar(&scenario, "scenario", ScenarioAll, "comma-separated scenarios: throughput, latency, failover, scale or all")
	fs.BoolVar(&c.Short, "short", false, "short version of every scenario (what make bench runs)")
	fs.DurationVar(&c.Duration, "duration", 0, "measurement window of throughput and latency (default 60s, short 10s)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "workload run before the window opens (default 10s, short 3s)")
	fs.Float64Var(&c.Rate, "rate", 0, "fires/s of throughput and latency (default 10000 and 1000)")
	fs.DurationVar(&c.Interval, "interval", 0, "every-interval of the fire schedules; rate×interval schedules are created (default 1s)")
	fs.IntVar(&c.Schedules, "schedules", 0, "idle schedules of the scale scenario (default 1000000, short 100000)")
	fs.IntVar(&c.FailoverSchedules, "failover-schedules", 0, "schedules firing every interval during failover (default 100)")
	fs.IntVar(&c.FailoverTrials, "failover-trials", 0, "kill -9 trials of the failover scenario (default 5, short 2)")
	fs.DurationVar(&c.IdleWindow, "idle-window", 0, "idle CPU sampling window of the scale scenario (default 10s, short 5s)")
	fs.IntVar(&c.Handlers, "handlers", 0, "handler instances run inside szbench (default 2)")
	fs.IntVar(&c.Capacity, "capacity", 0, "concurrent jobs per handler instance (default 4096)")
	fs.IntVar(&c.Nodes, "nodes", 0, "cluster size (default 3)")
	fs.StringVar(&c.RaftProfile, "raft-profile", "", "Raft timing profile of the started cluster: default or fast")
	fs.IntVar(&c.BasePort, "base-port", 0, "governor base port: node i uses B+i, B+100+i, B+200+i (default 40000)")
	fs.StringVar(&c.DataDir, "data-dir", "", "directory for the clusters' data, one sub-directory per scenario, kept (default: a temporary directory, removed)")
	fs.StringVar(&c.BinDir, "bin-dir", "", "directory holding the schedulezero binary (default ./bin)")
	fs.StringVar(&c.Target, "target", "", "HTTP address of a member of an existing cluster to use instead of starting one")
	fs.IntVar(&c.CreateClients, "create-clients", 0, "concurrent batch-create requests (default 4)")
	fs.IntVar(&c.BaselineCommits, "baseline-commits", 0, "commits of the raw Raft baseline (default 2000, short 500)")
	fs.StringVarP(&c.Output, "output", "o", OutputText, "output: text or json")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	c.Scenarios, err = parseScenarios(scenario)
	return c, err
}

// parseScenarios splits a --scenario value into scenario names in
// AllScenarios order; "all" (alone or in the list) selects every one.
func parseScenarios(v string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		switch {
		case s == "":
		case s == ScenarioAll:
			return slices.Clone(AllScenarios), nil
		case !slices.Contains(AllScenarios, s):
			return nil, fmt.Errorf("--scenario %q: want %s or %s", s, strings.Join(AllScenarios, ", "), ScenarioAll)
		case !slices.Contains(out, s):
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--scenario %q names no scenario", v)
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(AllScenarios, a) - slices.Index(AllScenarios, b) })
	return out, nil
}
