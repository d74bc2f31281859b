package governor

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schedulezero/schedulezero/internal/clock"
)

// Defaults of Config and RestartPolicy.
const (
	DefaultBasePort       = 18800
	DefaultRaftProfile    = "default"
	DefaultGracePeriod    = 10 * time.Second
	DefaultReadyTimeout   = 60 * time.Second
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxRestarts    = 10
	DefaultRestartWindow  = 10 * time.Minute
	DefaultResetAfter     = time.Minute
	// DefaultHandlerCommand is the handler template of `szgovernor up`.
	DefaultHandlerCommand = "szhandler --name demo --servers {servers} --journal {dir}/journal.jsonl --drain-timeout 5s"
	// MaxNodes bounds the node index: node i owns 127.0.1.i and port
	// offsets below 100.
	MaxNodes = 99
	// MaxHandlers bounds the handler index: handler h owns 127.0.3.h.
	MaxHandlers = 254
)

// Config configures a ProcessGovernor. Zero fields take the defaults above.
type Config struct {
	// Dir holds state.json, governor.lock, timeline.jsonl and one
	// directory per process. Required; created if missing.
	Dir string
	// NodeBinary is the schedulezero executable. Required.
	NodeBinary string
	// Nodes is the number of nodes Start launches (1..MaxNodes).
	Nodes int
	// Handlers is the number of handler processes (0..MaxHandlers).
	Handlers int
	// HandlerCommand is the handler command line, split on spaces (quotes
	// group words). {servers} becomes the handler's comma-separated ZMQ
	// endpoints, {dir} its directory, {id} its ID. A first word without a
	// slash is looked up in BinDir, then in PATH. Required when Handlers > 0.
	HandlerCommand string
	// BinDir is searched first for the handler command.
	BinDir string
	// BasePort B: node i uses http B+i, raft B+100+i, zmq B+200+i.
	BasePort int
	// RaftProfile is passed as --raft-profile (default, fast or test).
	RaftProfile string
	// Direct runs the cluster without the fault-injection proxies: nodes
	// advertise their bind addresses and talk to each other (and handlers
	// to them) directly. Partitions are then refused with ErrUnsupported;
	// kill, stop and restart still work. szbench uses it so that the
	// proxies' copying does not take CPU from the cluster it measures.
	Direct bool
	// NodeLogLevel is passed as --log-level (default info).
	NodeLogLevel string
	// NodeArgs are appended to every node's command line.
	NodeArgs []string
	// Env is added to the environment of every child. The governor's own
	// environment is inherited except SZ_* variables, which would override
	// the node flags.
	Env []string
	// Restart is the supervision policy.
	Restart RestartPolicy
	// GracePeriod is the time between SIGTERM and SIGKILL on stop.
	GracePeriod time.Duration
	// ReadyTimeout bounds the wait for a started node's /readyz.
	ReadyTimeout time.Duration
	// Logger receives the governor's own log; nil discards it.
	Logger *slog.Logger
	// Clock drives back-offs and timeouts; nil is the real clock.
	Clock clock.Clock
}

// RestartPolicy decides when a process that exited on its own is started
// again: after Initial back-off, doubling up to Max; a process that crashes
// MaxRestarts times within Window is marked failed and left alone. A run
// that lasted ResetAfter resets the back-off. Exits caused by Kill or Term
// always wait Initial and are not counted.
type RestartPolicy struct {
	Initial     time.Duration
	Max         time.Duration
	MaxRestarts int
	Window      time.Duration
	ResetAfter  time.Duration
}

func (p RestartPolicy) withDefaults() RestartPolicy {
	p.Initial = cmp.Or(p.Initial, DefaultInitialBackoff)
	p.Max = max(cmp.Or(p.Max, DefaultMaxBackoff), p.Initial)
	p.MaxRestarts = cmp.Or(p.MaxRestarts, DefaultMaxRestarts)
	p.Window = cmp.Or(p.Window, DefaultRestartWindow)
	p.ResetAfter = cmp.Or(p.ResetAfter, DefaultResetAfter)
	return p
}

func (c Config) withDefaults() Config {
	c.BasePort = cmp.Or(c.BasePort, DefaultBasePort)
	c.RaftProfile = cmp.Or(c.RaftProfile, DefaultRaftProfile)
	c.NodeLogLevel = cmp.Or(c.NodeLogLevel, "info")
	c.GracePeriod = cmp.Or(c.GracePeriod, DefaultGracePeriod)
	c.ReadyTimeout = cmp.Or(c.ReadyTimeout, DefaultReadyTimeout)
	c.Restart = c.Restart.withDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return c
}

func (c *Config) validate() error {
	if c.Dir == "" {
		return invalid("Dir is required")
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return invalid("Dir %q: %v", c.Dir, err)
	}
	c.Dir = abs
	if err := checkExecutable(c.NodeBinary); err != nil {
		return invalid("NodeBinary: %v", err)
	}
	if c.NodeBinary, err = filepath.Abs(c.NodeBinary); err != nil {
		return invalid("NodeBinary: %v", err)
	}
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		return invalid("Nodes %d: must be 1..%d", c.Nodes, MaxNodes)
	}
	if c.Handlers < 0 || c.Handlers > MaxHandlers {
		return invalid("Handlers %d: must be 0..%d", c.Handlers, MaxHandlers)
	}
	if c.BasePort < 1024 || c.BasePort+300 > 65535 {
		return invalid("BasePort %d: must be 1024..65235", c.BasePort)
	}
	switch c.RaftProfile {
	case "default", "fast", "test":
	default:
		return invalid("RaftProfile %q: must be default, fast or test", c.RaftProfile)
	}
	if c.GracePeriod < 0 || c.ReadyTimeout < 0 || c.Restart.Initial < 0 || c.Restart.MaxRestarts < 0 {
		return invalid("durations and counts must not be negative")
	}
	if c.Handlers > 0 && c.HandlerCommand == "" {
		return invalid("HandlerCommand is required when Handlers > 0")
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// checkExecutable reports whether path names an executable regular file.
func checkExecutable(path string) error {
	if path == "" {
		return fmt.Errorf("no path given")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}
