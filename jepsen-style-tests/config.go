package jepsen

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultDuration          = 5 * time.Minute
	DefaultNodes             = 3
	DefaultClients           = 6
	DefaultKeys              = 12
	DefaultRate              = 100 // operations per second, all clients together
	DefaultBasePort          = 14100
	DefaultElectionTimeout   = 150 * time.Millisecond // the "test" Raft profile
	DefaultOpTimeout         = 3 * time.Second
	DefaultHealthyMin        = 5 * time.Second
	DefaultHealthyMax        = 10 * time.Second
	DefaultFaultMin          = 3 * time.Second
	DefaultFaultMax          = 8 * time.Second
	DefaultLeaderBound       = 10 * time.Second
	DefaultRecoveryBound     = 20 * time.Second
	DefaultQuiescenceBound   = 30 * time.Second
	DefaultCheckTimeout      = 2 * time.Minute
	DefaultMinHealthyRate    = 5.0 // successful operations per second in healthy windows
	DefaultUnavailableBlip   = 500 * time.Millisecond
	DefaultRaftProfile       = "test"
	defaultMonitorInterval   = 250 * time.Millisecond
	defaultSettleAfterHeal   = 2 * time.Second
	defaultMembershipWait    = 20 * time.Second
	defaultSnapshotThreshold = "128"
)

// DefaultNodeArgs make snapshots frequent so that a lagging follower is
// brought up to date with InstallSnapshot rather than log replay.
var DefaultNodeArgs = []string{
	"--snapshot-threshold", defaultSnapshotThreshold,
	"--trailing-logs", "64",
	"--snapshot-interval", "2s",
}

// ErrInvalidConfig is returned by Run when a Config field is out of range.
var ErrInvalidConfig = errors.New("jepsen: invalid config")

// Config describes one seeded run. Zero fields take the defaults above; only
// Seed is significant at zero (seed 0 is a valid seed).
type Config struct {
	// Seed drives every random choice of the harness: the operation mix,
	// keys, target nodes, nemesis order, victims and window lengths. The
	// cluster's own timing is not seeded, so a replay reproduces the
	// schedule of faults and operations, not the exact interleaving.
	Seed int64
	// Duration is the length of the fault phase (workload + nemeses),
	// without cluster start, final heal, quiescence and checks.
	Duration time.Duration
	// Nodes is the cluster size (3 or 5).
	Nodes int
	// Clients is the number of concurrent workload clients (4–8), each
	// with one operation in flight.
	Clients int
	// Keys is the number of schedule IDs the workload touches (10–20).
	Keys int
	// Rate bounds the operations per second of all clients together.
	Rate int
	// BasePort is the governor's base port; node i uses BasePort+i (HTTP),
	// +100+i (Raft) and +200+i (ZMQ) on 127.0.1.i.
	BasePort int
	// Binary is a built schedulezero executable; empty means build one into
	// BinDir (or a temporary directory).
	Binary string
	// BinDir receives the built binary when Binary is empty.
	BinDir string
	// Dir is the governor directory (node data and logs); empty means a
	// fresh temporary directory, removed after a passing run.
	Dir string
	// ReportDir receives the report of a failing run (or of every run when
	// KeepReport is set). Empty means "reports/seed-<seed>-<time>".
	ReportDir string
	// KeepReport writes the report directory even when every check passes.
	KeepReport bool
	// Nemeses lists the faults to inject, by name (see NemesisNames); empty
	// means all of them. "none" runs the workload without faults.
	Nemeses []string
	// RaftProfile is passed to the nodes (default "test").
	RaftProfile string
	// NodeArgs are appended to every node's command line (default
	// DefaultNodeArgs).
	NodeArgs []string
	// ElectionTimeout is the profile's election timeout; pauses last 2–5×
	// this long.
	ElectionTimeout time.Duration
	// OpTimeout bounds one client operation (≈ 2× failover).
	OpTimeout time.Duration
	// HealthyMin/Max and FaultMin/Max bound the random window lengths.
	HealthyMin, HealthyMax time.Duration
	FaultMin, FaultMax     time.Duration
	// LeaderBound is the liveness bound: a ready leader must exist this
	// long after the final heal.
	LeaderBound time.Duration
	// RecoveryBound: after every heal, some operation must succeed within
	// this long.
	RecoveryBound time.Duration
	// QuiescenceBound bounds the wait for every node to report the same
	// applied index and digest.
	QuiescenceBound time.Duration
	// CheckTimeout bounds the linearizability search (porcupine).
	CheckTimeout time.Duration
	// MinHealthyRate is the lowest acceptable rate of successful
	// operations per second during healthy windows.
	MinHealthyRate float64
	// FireGrace is the every-slot grace of the fire checkers: slots later
	// than the end of firing minus FireGrace need not have run (default
	// DefaultFireGrace, for the "test" Raft profile).
	FireGrace time.Duration
	// Out receives the progress lines and the summary (nil: discarded).
	Out io.Writer
	// Logf receives diagnostic lines (nil: discarded); tests pass t.Logf.
	Logf func(format string, args ...any)
}

func (c Config) withDefaults() Config {
	c.Duration = cmp.Or(c.Duration, DefaultDuration)
	c.Nodes = cmp.Or(c.Nodes, DefaultNodes)
	c.Clients = cmp.Or(c.Clients, DefaultClients)
	c.Keys = cmp.Or(c.Keys, DefaultKeys)
	c.Rate = cmp.Or(c.Rate, DefaultRate)
	c.BasePort = cmp.Or(c.BasePort, DefaultBasePort)
	c.RaftProfile = cmp.Or(c.RaftProfile, DefaultRaftProfile)
	if c.NodeArgs == nil {
		c.NodeArgs = slices.Clone(DefaultNodeArgs)
	}
	c.ElectionTimeout = cmp.Or(c.ElectionTimeout, DefaultElectionTimeout)
	c.OpTimeout = cmp.Or(c.OpTimeout, DefaultOpTimeout)
	c.HealthyMin = cmp.Or(c.HealthyMin, DefaultHealthyMin)
	c.HealthyMax = cmp.Or(c.HealthyMax, DefaultHealthyMax)
	c.FaultMin = cmp.Or(c.FaultMin, DefaultFaultMin)
	c.FaultMax = cmp.Or(c.FaultMax, DefaultFaultMax)
	c.LeaderBound = cmp.Or(c.LeaderBound, DefaultLeaderBound)
	c.RecoveryBound = cmp.Or(c.RecoveryBound, DefaultRecoveryBound)
	c.QuiescenceBound = cmp.Or(c.QuiescenceBound, DefaultQuiescenceBound)
	c.CheckTimeout = cmp.Or(c.CheckTimeout, DefaultCheckTimeout)
	c.FireGrace = cmp.Or(c.FireGrace, DefaultFireGrace)
	c.MinHealthyRate = cmp.Or(c.MinHealthyRate, DefaultMinHealthyRate)
	if len(c.Nemeses) == 0 {
		c.Nemeses = NemesisNames()
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if c.ReportDir == "" {
		c.ReportDir = fmt.Sprintf("reports/seed-%d-%s", c.Seed, time.Now().UTC().Format("20060102T150405Z"))
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Nodes != 3 && c.Nodes != 5:
		return invalid("Nodes %d: must be 3 or 5", c.Nodes)
	case c.Clients < 1 || c.Clients > 64:
		return invalid("Clients %d: must be 1..64", c.Clients)
	case c.Keys < 1 || c.Keys > 1000:
		return invalid("Keys %d: must be 1..1000", c.Keys)
	case c.Rate < 1:
		return invalid("Rate %d: must be positive", c.Rate)
	case c.HealthyMin > c.HealthyMax || c.FaultMin > c.FaultMax:
		return invalid("window bounds: min must not exceed max")
	case c.Duration < time.Second:
		return invalid("Duration %s: must be at least 1s", c.Duration)
	}
	for _, n := range c.Nemeses {
		if n != NemesisNone && !slices.Contains(NemesisNames(), n) {
			return invalid("unknown nemesis %q (known: %s, %s)", n, strings.Join(NemesisNames(), ", "), NemesisNone)
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// ParseNemeses splits a comma-separated nemesis list; "" and "all" mean
// every nemesis.
func ParseNemeses(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return NemesisNames()
	}
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
