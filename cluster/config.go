package cluster

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// Timing profiles accepted in Config.Profile.
const (
	// ProfileDefault: heartbeat, election timeout and leader lease 500 ms,
	// commit timeout 50 ms. Crash failover (ready leader) ≈ 1 s median;
	// tolerates CPU or network stalls of a few hundred ms (DESIGN.md §2).
	ProfileDefault = "default"
	// ProfileFast suits a LAN with dedicated cores: heartbeat, election
	// timeout and lease 100 ms, commit timeout 5 ms. Crash failover
	// ≈ 0.2 s median; a stall longer than ~100 ms causes an election.
	ProfileFast = "fast"
	// ProfileTest suits loopback clusters in tests: 150 ms heartbeat and
	// election, 100 ms lease, 5 ms commit timeout.
	ProfileTest = "test"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultSnapshotThreshold = 8192
	DefaultTrailingLogs      = 10240
	DefaultSnapshotInterval  = 30 * time.Second
	DefaultSnapshotLogBytes  = 128 << 20
	DefaultTrailingLogBytes  = 32 << 20
	DefaultMaxBatchEvents    = 4096
	DefaultApplyTimeout      = 10 * time.Second
	DefaultHTTPTimeout       = 5 * time.Second
	// defaultMaxRPCsInFlight: see Config.maxRPCsInFlight and DESIGN.md §1.
	defaultMaxRPCsInFlight = 1
)

// Config configures a Node. Zero values take the documented defaults.
type Config struct {
	// NodeID is the stable Raft server ID. It is persisted in
	// <DataDir>/node-id on first start; a later start with a different ID
	// and the same data dir fails.
	NodeID string
	// DataDir holds node-id and raft/ (raft.db and snapshots).
	DataDir string
	// RaftBind is the host:port the Raft transport listens on. Port 0 picks
	// a free port (Self().RaftAddr reports the real one).
	RaftBind string
	// RaftAdvertise is the host:port peers dial; defaults to the bound
	// address (which must then not be an unspecified IP such as 0.0.0.0).
	RaftAdvertise string
	// HTTPAdvertise and ZMQAdvertise are recorded in the replicated state as
	// this node's addresses (fsm.NodeInfo). HTTPAdvertise ("host:port" or
	// "http://host:port") is required: followers forward writes to it and
	// the leader polls a joining node's /v1/cluster/self through it.
	HTTPAdvertise string
	ZMQAdvertise  string
	// Bootstrap forms a new single-node cluster when the data dir holds no
	// Raft state. It is ignored when state exists.
	Bootstrap bool
	// Profile is ProfileDefault (""), ProfileFast or ProfileTest.
	Profile string
	// SnapshotThreshold (default 8192) and TrailingLogs (default 10240) are
	// passed to Raft.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	// SnapshotInterval is how often Raft checks the threshold (default 30 s).
	SnapshotInterval time.Duration
	// SnapshotLogBytes adds a byte bound to SnapshotThreshold: once this
	// many bytes (plus a per-node jitter of up to 50 %) of entries have
	// been applied since the last snapshot, the node takes one (default
	// 128 MiB). Entries range from ~300 bytes to hundreds of kilobytes
	// (bulk loads), so a count alone does not bound the log.
	SnapshotLogBytes uint64
	// TrailingLogBytes adds a byte bound to TrailingLogs: the node lowers
	// Raft's TrailingLogs so that the entries kept after a snapshot hold
	// about this many bytes (default 32 MiB), never fewer than 32 entries
	// (or TrailingLogs if lower). A follower further behind than that
	// catches up by InstallSnapshot.
	TrailingLogBytes uint64
	// MaxBatchEvents bounds the events packed into one log entry (default
	// 1024). A single Propose call larger than this still goes in one entry.
	MaxBatchEvents int
	// ApplyTimeout bounds how long a proposal waits to be accepted by the
	// Raft leader loop (default 10 s).
	ApplyTimeout time.Duration
	// Logger receives all logs, Raft's included. nil discards them.
	Logger *slog.Logger
	// Clock stamps Event.At on every proposed event (the only time that
	// enters the replicated state). Timers of this package (back-off,
	// polling) and Raft's own timers always use the wall clock, so a fake
	// Clock never stalls the cluster. Default clock.Real{}.
	Clock clock.Clock
	// Registerer, when set, receives the sz_raft_* and sz_cluster_* metrics
	// on Start; they are unregistered on Stop.
	Registerer prometheus.Registerer
	// HTTPClient is used for joining, leaving and polling joiners. Default:
	// a client with a 5 s timeout.
	HTTPClient *http.Client

	// maxRPCsInFlight is the transport's MaxRPCsInFlight: 1 turns
	// pipelined replication off, n ≥ 2 allows n AppendEntries in flight per
	// follower. Default defaultMaxRPCsInFlight; tests and benchmarks
	// change it through export_test.go.
	maxRPCsInFlight int
}

// timing holds the Raft timeouts of one profile.
type timing struct {
	heartbeat, election, lease, commit time.Duration
}

var profiles = map[string]timing{
	ProfileDefault: {heartbeat: 500 * time.Millisecond, election: 500 * time.Millisecond, lease: 500 * time.Millisecond, commit: 50 * time.Millisecond},
	ProfileFast:    {heartbeat: 100 * time.Millisecond, election: 100 * time.Millisecond, lease: 100 * time.Millisecond, commit: 5 * time.Millisecond},
	ProfileTest:    {heartbeat: 150 * time.Millisecond, election: 150 * time.Millisecond, lease: 100 * time.Millisecond, commit: 5 * time.Millisecond},
}

// withDefaults returns cfg with zero fields replaced by their defaults.
func (cfg Config) withDefaults() Config {
	cfg.Profile = cmp.Or(cfg.Profile, ProfileDefault)
	cfg.RaftAdvertise = strings.TrimSpace(cfg.RaftAdvertise)
	cfg.SnapshotThreshold = cmp.Or(cfg.SnapshotThreshold, DefaultSnapshotThreshold)
	cfg.TrailingLogs = cmp.Or(cfg.TrailingLogs, DefaultTrailingLogs)
	cfg.SnapshotInterval = cmp.Or(cfg.SnapshotInterval, DefaultSnapshotInterval)
	cfg.SnapshotLogBytes = cmp.Or(cfg.SnapshotLogBytes, DefaultSnapshotLogBytes)
	cfg.TrailingLogBytes = cmp.Or(cfg.TrailingLogBytes, DefaultTrailingLogBytes)
	cfg.MaxBatchEvents = cmp.Or(cfg.MaxBatchEvents, DefaultMaxBatchEvents)
	cfg.ApplyTimeout = cmp.Or(cfg.ApplyTimeout, DefaultApplyTimeout)
	cfg.maxRPCsInFlight = cmp.Or(cfg.maxRPCsInFlight, defaultMaxRPCsInFlight)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return cfg
}

// validate checks a defaulted Config.
func (cfg Config) validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidConfig, field, fmt.Sprintf(format, args...))
	}
	switch {
	case cfg.NodeID == "":
		return bad("NodeID", "must not be empty")
	case len(cfg.NodeID) > 128 || strings.ContainsAny(cfg.NodeID, "/?#% \t\r\n"):
		return bad("NodeID", "%q must be at most 128 characters without '/', '?', '#', '%%' or spaces", cfg.NodeID)
	case cfg.DataDir == "":
		return bad("DataDir", "must not be empty")
	case cfg.HTTPAdvertise == "":
		return bad("HTTPAdvertise", "must not be empty")
	}
	if _, _, err := net.SplitHostPort(cfg.RaftBind); err != nil {
		return bad("RaftBind", "%q is not host:port: %v", cfg.RaftBind, err)
	}
	if cfg.RaftAdvertise != "" {
		if err := validAdvertise(cfg.RaftAdvertise); err != nil {
			return bad("RaftAdvertise", "%v", err)
		}
	}
	if _, ok := profiles[cfg.Profile]; !ok {
		return bad("Profile", "%q is not one of %q, %q, %q", cfg.Profile, ProfileDefault, ProfileFast, ProfileTest)
	}
	switch {
	case cfg.MaxBatchEvents < 0:
		return bad("MaxBatchEvents", "must not be negative")
	case cfg.ApplyTimeout < 0:
		return bad("ApplyTimeout", "must not be negative")
	case cfg.SnapshotInterval < 0:
		return bad("SnapshotInterval", "must not be negative")
	}
	return nil
}

// validAdvertise checks that addr is host:port with a non-zero port and, if
// host is an IP, a specified one.
func validAdvertise(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "" || port == "" || port == "0" {
		return fmt.Errorf("%q needs a host and a non-zero port", addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%q is not an address peers can dial", addr)
	}
	return nil
}
