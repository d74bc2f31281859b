package fsm

import (
	"encoding/json"
	"time"

	"github.com/schedulezero/schedulezero/trigger"
)

// Overlap policies accepted in Policy.Overlap.
const (
	OverlapSkip        = "skip"
	OverlapAllow       = "allow"
	OverlapBufferOne   = "buffer_one"
	OverlapCancelOther = "cancel_other"
)

// Schedule is one replicated schedule. Its JSON form is the schedule object
// of the HTTP API (DESIGN.md). Values stored in the FSM are immutable: every
// event that changes a schedule replaces the pointer, which is what makes
// Snapshot cheap and lets readers hold a *Schedule without a lock.
type Schedule struct {
	ID        string          `json:"id"`
	Handler   string          `json:"handler"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params,omitempty"`
	Trigger   trigger.Spec    `json:"trigger"`
	Policy    Policy          `json:"policy"`
	StartAt   *time.Time      `json:"start_at"`
	EndAt     *time.Time      `json:"end_at"`
	MaxRuns   int             `json:"max_runs"`
	Paused    bool            `json:"paused"`
	Version   uint64          `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// LastNominalAt is the high-water mark: the latest nominal time for
	// which an automatic decision (fired, skipped, missed) is committed.
	// The leader's timers resume strictly after it.
	LastNominalAt *time.Time `json:"last_nominal_at,omitempty"`
	// FiredRuns counts automatic runs fired (for max_runs).
	FiredRuns int `json:"fired_runs,omitempty"`
}

// Policy holds the per-schedule execution policy.
type Policy struct {
	Overlap       string   `json:"overlap"`
	CatchupWindow Duration `json:"catchup_window"`
	MaxRetries    int      `json:"max_retries"`
	RetryBackoff  Duration `json:"retry_backoff"`
	Timeout       Duration `json:"timeout"`
	Jitter        Duration `json:"jitter"`
	// HistoryLimit and HistoryMaxAge bound the finished runs kept for the
	// schedule (0 means the package defaults RunHistoryLimit and
	// RunHistoryMaxAge).
	HistoryLimit  int      `json:"history_limit"`
	HistoryMaxAge Duration `json:"history_max_age"`
}

// DefaultPolicy is applied by the API to fields a client leaves out.
var DefaultPolicy = Policy{
	Overlap:       OverlapSkip,
	CatchupWindow: Duration(time.Hour),
	MaxRetries:    3,
	RetryBackoff:  Duration(time.Second),
	Timeout:       Duration(10 * time.Minute),
	Jitter:        0,
	HistoryLimit:  RunHistoryLimit,
	HistoryMaxAge: Duration(RunHistoryMaxAge),
}

// Anchor is the instant `every` triggers are aligned to: start_at when set,
// otherwise the leader-stamped creation time. Anchoring (instead of "last
// fire + interval") is what keeps an interval schedule from drifting.
func (s *Schedule) Anchor() time.Time {
	if s.StartAt != nil {
		return *s.StartAt
	}
	return s.CreatedAt
}

// NodeInfo is a cluster member's addresses as recorded in the replicated
// state, so that every node can map a Raft server ID to HTTP and ZeroMQ
// endpoints (for write forwarding and handler redirects).
type NodeInfo struct {
	ID       string `json:"id"`
	HTTPAddr string `json:"http_addr"`
	RaftAddr string `json:"raft_addr"`
	ZMQAddr  string `json:"zmq_addr"`
}
