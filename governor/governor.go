package governor

import (
	"context"
	"errors"
	"time"
)

// Governor runs a local ScheduleZero cluster: it starts, watches and stops
// the processes and injects faults into them.
//
// Start and Stop are called once each by the owner; Stop is idempotent and
// safe before Start. The Controller methods are safe for concurrent use and
// are serialised internally: a fault or membership operation runs to
// completion before the next one starts.
type Governor interface {
	// Start launches the nodes one after the other (the first bootstraps,
	// each next one joins and is waited for) and then the handlers. It
	// returns once every node answers /readyz, or with the first error, in
	// which case everything already started has been stopped.
	Start(ctx context.Context) error
	// Stop stops every process (SIGTERM, then SIGKILL after the grace
	// period), closes the proxies and releases the directory. It returns
	// once no process it started is left.
	Stop(ctx context.Context) error
	Controller
}

// Controller is the part of a Governor that another shell can drive
// through the control API (see Remote). Process IDs are "n1", "n2", … for
// nodes and "h1", "h2", … for handlers.
type Controller interface {
	// Status reports every process the governor knows about.
	Status(ctx context.Context) (Status, error)
	// Kill sends SIGKILL. The supervisor restarts the process after its
	// initial back-off; the exit does not count toward the crash limit.
	Kill(ctx context.Context, id string) error
	// Term sends SIGTERM (graceful stop: leadership transfer, drain). The
	// supervisor restarts the process like after Kill.
	Term(ctx context.Context, id string) error
	// Pause sends SIGSTOP. A paused process is left alone by the
	// supervisor until Resume.
	Pause(ctx context.Context, id string) error
	// Resume sends SIGCONT.
	Resume(ctx context.Context, id string) error
	// Restart stops the process gracefully and starts it again with the
	// same data directory, clearing its back-off and a "failed" state. It
	// returns once a restarted node answers /readyz.
	Restart(ctx context.Context, id string) error
	// Partition replaces the partition rules: traffic between any two
	// processes of different groups is blackholed in both directions.
	// Processes not named in any group keep talking to everyone, so
	// Partition([][]string{{"n1"}, {"n3"}}) is a bridge through n2, and
	// Partition([][]string{{"n1"}, {"h1"}}) cuts handler h1 from node n1.
	Partition(ctx context.Context, groups [][]string) error
	// PartitionOneWay replaces the partition rules: bytes sent by any
	// process of from to any process of to are dropped; the reverse
	// direction still flows.
	PartitionOneWay(ctx context.Context, from, to []string) error
	// Heal removes every partition rule and closes the connections that
	// were blackholed, so peers reconnect cleanly.
	Heal(ctx context.Context) error
	// AddNode starts the next node (n<N+1>) with --join to the live
	// members and returns its ID once it answers /readyz.
	AddNode(ctx context.Context) (string, error)
	// RemoveNode removes the member from the Raft configuration through
	// another live node (DELETE /v1/cluster/members/{id}), then stops its
	// process. Its data directory is kept.
	RemoveNode(ctx context.Context, id string) error
}

// Sentinel errors. Compare with errors.Is.
var (
	// ErrUnknownProcess: no process with that ID.
	ErrUnknownProcess = errors.New("governor: unknown process")
	// ErrNotRunning: the operation needs a live process and there is none
	// (it is in back-off, failed, stopped or removed).
	ErrNotRunning = errors.New("governor: process not running")
	// ErrLocked: another governor holds the directory's lock.
	ErrLocked = errors.New("governor: directory in use by another governor")
	// ErrNotStarted: the governor has not been started, or has stopped.
	ErrNotStarted = errors.New("governor: not running")
	// ErrNoGovernor: no live governor answers for the directory (its
	// control API is unreachable); only Down and a fallback Status work.
	ErrNoGovernor = errors.New("governor: no running governor for this directory")
	// ErrInvalidConfig: a Config field is missing or malformed.
	ErrInvalidConfig = errors.New("governor: invalid config")
	// ErrInvalidArgument: a fault or membership request is malformed.
	ErrInvalidArgument = errors.New("governor: invalid argument")
	// ErrUnsupported: the operation needs something this governor was
	// configured without (partitions under Config.Direct).
	ErrUnsupported = errors.New("governor: unsupported by this configuration")
)

// Kind tells nodes from handlers.
type Kind string

// Process kinds.
const (
	KindNode    Kind = "node"
	KindHandler Kind = "handler"
)

// ProcessState is the supervisor's view of one process.
type ProcessState string

// Process states.
const (
	// StateStarting: spawned, not yet ready (a node has not answered
	// /readyz since this start).
	StateStarting ProcessState = "starting"
	// StateRunning: spawned and ready at least once since this start.
	StateRunning ProcessState = "running"
	// StatePaused: stopped with SIGSTOP.
	StatePaused ProcessState = "paused"
	// StateBackoff: exited; waiting for its back-off before a restart.
	StateBackoff ProcessState = "backoff"
	// StateStopping: SIGTERM sent by the governor; no restart follows.
	StateStopping ProcessState = "stopping"
	// StateStopped: stopped by the governor.
	StateStopped ProcessState = "stopped"
	// StateFailed: crashed too often; not restarted until Restart.
	StateFailed ProcessState = "failed"
	// StateRemoved: a node removed from the cluster by RemoveNode.
	StateRemoved ProcessState = "removed"
	// StateGone: reported by the state-file fallback for a recorded
	// process that no longer exists.
	StateGone ProcessState = "gone"
)

// Status is a snapshot of the governor and its processes. Its JSON form is
// the output of `szgovernor status -o json` and the body of state.json.
type Status struct {
	Governor GovernorInfo    `json:"governor"`
	Nodes    []ProcessStatus `json:"nodes"`
	Handlers []ProcessStatus `json:"handlers"`
	// Blocked lists the directed pairs [from, to] whose bytes are dropped.
	Blocked [][2]string `json:"blocked"`
}

// GovernorInfo describes the supervising process.
type GovernorInfo struct {
	PID         int       `json:"pid"`
	State       string    `json:"state"` // starting|running|stopping|stopped|gone
	ControlAddr string    `json:"control_addr"`
	Dir         string    `json:"dir"`
	BasePort    int       `json:"base_port"`
	StartedAt   time.Time `json:"started_at"`
}

// ProcessStatus describes one supervised process.
type ProcessStatus struct {
	ID    string       `json:"id"`
	Kind  Kind         `json:"kind"`
	PID   int          `json:"pid"`
	State ProcessState `json:"state"`
	// HTTPAddr, RaftAddr and ZMQAddr are the node's own (bind) addresses
	// on 127.0.1.i: direct, never partitioned, reachable without the
	// governor. The Advertise* addresses are the proxies on 127.0.2.i
	// that peers use.
	HTTPAddr      string `json:"http_addr,omitempty"`
	RaftAddr      string `json:"raft_addr,omitempty"`
	ZMQAddr       string `json:"zmq_addr,omitempty"`
	AdvertiseHTTP string `json:"advertise_http,omitempty"`
	AdvertiseRaft string `json:"advertise_raft,omitempty"`
	AdvertiseZMQ  string `json:"advertise_zmq,omitempty"`
	// Servers is a handler's --servers value (its own proxy endpoints).
	Servers string `json:"servers,omitempty"`
	DataDir string `json:"data_dir,omitempty"`
	LogFile string `json:"log_file"`
	// Restarts counts every restart by the supervisor (crashes and faults).
	Restarts int    `json:"restarts"`
	LastExit string `json:"last_exit,omitempty"`
	// PeerConns counts, per service (http, raft, zmq), the connections the
	// proxies attributed to this node by its source address 127.0.1.i. A
	// node that dials its peers from another address is seen as a client
	// and partitions cannot cut that traffic; a leader with no "raft"
	// count shows it.
	PeerConns map[string]int64 `json:"peer_conns,omitempty"`
	// Cmdline is the argv of the current process; the state-file fallback
	// signals a PID only while /proc/<pid>/cmdline still matches it.
	Cmdline []string `json:"cmdline,omitempty"`
}

// Process returns the status of the process with the given ID.
func (s Status) Process(id string) (ProcessStatus, bool) {
	for _, list := range [][]ProcessStatus{s.Nodes, s.Handlers} {
		for _, p := range list {
			if p.ID == id {
				return p, true
			}
		}
	}
	return ProcessStatus{}, false
}
