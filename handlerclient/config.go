package handlerclient

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/schedulezero/schedulezero/internal/clock"
	"github.com/schedulezero/schedulezero/transport"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultCapacity          = 4
	DefaultHeartbeatInterval = time.Second
	DefaultLiveness          = 3
	DefaultDrainTimeout      = 30 * time.Second
	DefaultFlushTimeout      = 5 * time.Second
)

// Reconnect back-off: MinBackoff doubling up to MaxBackoff, plus up to 20 %
// random jitter, forever.
const (
	MinBackoff = 250 * time.Millisecond
	MaxBackoff = 8 * time.Second
)

// ErrInvalidConfig is returned (wrapped) by New for a Config it cannot use.
var ErrInvalidConfig = errors.New("handlerclient: invalid config")

// Config configures a Client. Name and Servers are required; every other
// field has a default.
type Config struct {
	// Name is the handler name schedules target ("handler" in a schedule).
	Name string
	// Servers are the ZeroMQ endpoints of the cluster nodes
	// ("tcp://host:port"). The client keeps a connection to every one of
	// them and follows the leader among them.
	Servers []string
	// Capacity is the number of jobs run at once; it is announced to the
	// cluster as the handler's credit. Default DefaultCapacity.
	Capacity int
	// Token is an optional shared secret sent in hello.
	Token string
	// Instance identifies this handler instance to the cluster. Default:
	// the process-wide Instance(). Set it only to run several instances
	// with the same Name in one process (tests).
	Instance string

	// Dialer opens connections. Default: transport.ZMQDialer{}.
	Dialer transport.Dialer
	// Logger receives the client's logs. Default: discard.
	Logger *slog.Logger
	// Clock drives heartbeats, back-off, deadlines and timeouts.
	// Default: clock.Real{}.
	Clock clock.Clock
	// Registerer, when set, registers the client's Prometheus metrics.
	Registerer prometheus.Registerer

	// HeartbeatInterval is the heartbeat period used until a leader's
	// welcome announces its own. Default DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// Liveness is the number of heartbeat intervals of silence after which
	// a connection is declared dead, until a welcome announces the node's
	// value. Default DefaultLiveness.
	Liveness int
	// DrainTimeout bounds how long Run waits for running jobs once its
	// context is cancelled; then their contexts are cancelled.
	// Default DefaultDrainTimeout.
	DrainTimeout time.Duration
	// FlushTimeout bounds each of the two last shutdown steps: waiting for
	// cancelled jobs to return, and waiting for the cluster to acknowledge
	// the remaining results. Default DefaultFlushTimeout.
	FlushTimeout time.Duration

	// BeforeRunFunc, when set, is called for every new job after
	// de-duplication and before the job is accepted and run (szhandler
	// writes and fsyncs its journal here). It runs in the job's goroutine.
	// An error rejects the dispatch (reason "before_run_failed") and the
	// job is not run; the cluster may dispatch it again.
	BeforeRunFunc func(*Job) error
}

// withDefaults returns c with defaults applied.
func (c Config) withDefaults() Config {
	if c.Capacity == 0 {
		c.Capacity = DefaultCapacity
	}
	if c.Instance == "" {
		c.Instance = Instance()
	}
	if c.Dialer == nil {
		c.Dialer = transport.ZMQDialer{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.Liveness == 0 {
		c.Liveness = DefaultLiveness
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	return c
}

// validate checks a Config after withDefaults.
func (c Config) validate() error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Name == "":
		return invalid("Name is required")
	case !validName(c.Name, false):
		return invalid("Name %q: want 1-128 printable characters without spaces or '/'", c.Name)
	case !validName(c.Instance, false):
		return invalid("Instance %q: want 1-128 printable characters without spaces or '/'", c.Instance)
	case len(c.Name)+len(c.Instance) > 200:
		return invalid("Name and Instance together exceed 200 bytes (connection identities are limited to 255)")
	case len(c.Servers) == 0:
		return invalid("Servers is required")
	case c.Capacity < 1:
		return invalid("Capacity %d: must be at least 1", c.Capacity)
	case c.HeartbeatInterval < time.Millisecond:
		return invalid("HeartbeatInterval %s: must be at least 1ms", c.HeartbeatInterval)
	case c.Liveness < 1:
		return invalid("Liveness %d: must be at least 1", c.Liveness)
	case c.DrainTimeout < 0 || c.FlushTimeout < 0:
		return invalid("DrainTimeout and FlushTimeout must not be negative")
	}
	seen := make(map[string]bool, len(c.Servers))
	for _, s := range c.Servers {
		if err := checkEndpoint(s); err != nil {
			return invalid("Servers: %v", err)
		}
		if seen[s] {
			return invalid("Servers: %q listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

// checkEndpoint accepts "tcp://host:port" with a numeric port.
func checkEndpoint(ep string) error {
	rest, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return fmt.Errorf("%q: want tcp://host:port", ep)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil || host == "" {
		return fmt.Errorf("%q: want tcp://host:port", ep)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: invalid port %q", ep, port)
	}
	return nil
}

// validName accepts 1-128 printable ASCII characters other than space and,
// unless slash is true, '/' (the separator of connection identities).
func validName(s string, slash bool) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f || (b == '/' && !slash) {
			return false
		}
	}
	return true
}
