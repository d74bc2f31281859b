package jepsen

import (
	"cmp"
	"slices"
	"sync"
)

// OpKind is the kind of a client operation.
type OpKind string

// Operation kinds of the CRUD workload.
const (
	OpCreate OpKind = "create"
	OpUpdate OpKind = "update"
	OpDelete OpKind = "delete"
	OpGet    OpKind = "get"
)

// IsWrite reports whether the operation changes the schedule set.
func (k OpKind) IsWrite() bool { return k != OpGet }

// Outcome is what the client knows about an operation once it returned.
type Outcome string

// Outcomes.
const (
	// OutcomeOK: 2xx; the operation took effect exactly once.
	OutcomeOK Outcome = "ok"
	// OutcomeFail: a definite answer that the operation had no effect
	// (404, 409, 400) or a connection that was never established.
	OutcomeFail Outcome = "fail"
	// OutcomeUnknown: it may or may not have taken effect, now or later
	// (timeouts, 503, other 5xx, connections broken after sending).
	OutcomeUnknown Outcome = "unknown"
)

// Failure codes in Op.Result for OutcomeFail.
const (
	ResultNotFound      = "not_found"
	ResultAlreadyExists = "already_exists"
	ResultInvalid       = "invalid"     // 400: never expected from this workload
	ResultUnexpected    = "unexpected"  // a definite status the workload does not expect
	ResultUnreachable   = "unreachable" // dial failed: nothing was sent
)

// Op is one client operation, from invocation to completion. Times are
// CLOCK_MONOTONIC nanoseconds, the axis of the governor's timeline.
type Op struct {
	// Index orders operations by invocation once the history is sorted.
	Index  int    `json:"index"`
	Client int    `json:"client"`
	Node   string `json:"node"` // the node the request was sent to
	Kind   OpKind `json:"kind"`
	Key    string `json:"key"`
	// Value is the unique value a create or update writes.
	Value   string  `json:"value,omitempty"`
	Outcome Outcome `json:"outcome"`
	// Result is the failure code (OutcomeFail) or a short cause
	// (OutcomeUnknown: "timeout", "no_leader", "transport", …).
	Result string `json:"result,omitempty"`
	// Read is the value a successful get returned.
	Read       string `json:"read,omitempty"`
	Status     int    `json:"status,omitempty"` // HTTP status, 0 without an answer
	Error      string `json:"error,omitempty"`
	InvokeNS   int64  `json:"invoke_ns"`
	CompleteNS int64  `json:"complete_ns"`
}

// NemesisEvent is one action of a nemesis, from its start to its end.
type NemesisEvent struct {
	Nemesis string   `json:"nemesis"`
	Phase   string   `json:"phase"` // start, stop, or an intermediate action
	Targets []string `json:"targets,omitempty"`
	Detail  string   `json:"detail,omitempty"`
	Error   string   `json:"error,omitempty"`
	StartNS int64    `json:"start_ns"`
	EndNS   int64    `json:"end_ns"`
}

// Window is one phase of the nemesis schedule.
type Window struct {
	Kind    string `json:"kind"` // healthy or fault
	Nemesis string `json:"nemesis,omitempty"`
	StartNS int64  `json:"start_ns"`
	EndNS   int64  `json:"end_ns"`
}

// Window kinds.
const (
	WindowHealthy = "healthy"
	WindowFault   = "fault"
)

// Observation is one poll of a node's /v1/cluster/self by the monitor.
type Observation struct {
	AtNS     int64  `json:"at_ns"`
	Node     string `json:"node"`
	State    string `json:"state,omitempty"`
	Term     uint64 `json:"term,omitempty"`
	LeaderID string `json:"leader_id,omitempty"`
	Ready    bool   `json:"ready,omitempty"`
	Applied  uint64 `json:"applied,omitempty"`
	Error    string `json:"error,omitempty"`
}

// NodeState is a node's /v1/cluster/self at the end of the run.
type NodeState struct {
	Node      string `json:"node"`
	State     string `json:"state,omitempty"`
	Term      uint64 `json:"term,omitempty"`
	Applied   uint64 `json:"applied"`
	Commit    uint64 `json:"commit"`
	Digest    string `json:"digest,omitempty"`
	Schedules int    `json:"schedules"`
	Error     string `json:"error,omitempty"`
}

// FinalRead is the final linearizable read of one key.
type FinalRead struct {
	Key    string `json:"key"`
	Exists bool   `json:"exists"`
	Value  string `json:"value,omitempty"`
	Error  string `json:"error,omitempty"`
	// InvokeNS and CompleteNS place the read in the history so that the
	// linearizability checker can include it.
	InvokeNS   int64 `json:"invoke_ns"`
	CompleteNS int64 `json:"complete_ns"`
}

// Final is what the runner observed after the last heal, with the workload
// stopped: the material of the convergence, set and liveness checks.
type Final struct {
	HealNS int64 `json:"heal_ns"`
	// LeaderNS is when a ready leader was first seen after HealNS (0: none
	// within the wait).
	LeaderNS int64  `json:"leader_ns"`
	Leader   string `json:"leader,omitempty"`
	// QuiescedNS is when every member first reported the same applied
	// index and digest (0: never within the wait); Nodes is that poll, or
	// the last one.
	QuiescedNS int64       `json:"quiesced_ns"`
	Nodes      []NodeState `json:"nodes"`
	Reads      []FinalRead `json:"reads"`
	// Lists holds every member's linearizable GET /v1/schedules (key →
	// value); StaleLists the same with ?stale=true after quiescence.
	Lists      map[string]map[string]string `json:"lists"`
	StaleLists map[string]map[string]string `json:"stale_lists"`
	ListErrors map[string]string            `json:"list_errors,omitempty"`
	// SnapshotsInstalled counts InstallSnapshot receptions in the node
	// logs: evidence that the snapshot path was exercised.
	SnapshotsInstalled int `json:"snapshots_installed"`
	// ForcedKills counts nodes the governor had to SIGKILL because they
	// did not exit within the grace period after SIGTERM.
	ForcedKills int `json:"forced_kills"`
}

// History is everything recorded during a run. Recording methods are safe
// for concurrent use; checkers treat a History as read-only after Seal.
type History struct {
	Seed  int64    `json:"seed"`
	Keys  []string `json:"keys"`
	Nodes []string `json:"nodes"` // every node that was ever a member
	// Requested lists the nemeses the run was asked to inject.
	Requested []string `json:"requested"`

	mu           sync.Mutex
	Ops          []Op           `json:"-"`
	Nemesis      []NemesisEvent `json:"-"`
	Windows      []Window       `json:"-"`
	Observations []Observation  `json:"-"`
	Final        Final          `json:"final"`
	// Fire is the timed-schedule workload's record (nil: not run).
	Fire *FireHistory `json:"fire,omitempty"`
	// StartNS and EndNS bound the workload phase.
	StartNS int64 `json:"start_ns"`
	EndNS   int64 `json:"end_ns"`
}

// AddOp records a completed operation.
func (h *History) AddOp(op Op) {
	h.mu.Lock()
	h.Ops = append(h.Ops, op)
	h.mu.Unlock()
}

// AddNemesis records a nemesis action.
func (h *History) AddNemesis(ev NemesisEvent) {
	h.mu.Lock()
	h.Nemesis = append(h.Nemesis, ev)
	h.mu.Unlock()
}

// AddWindow records a phase of the schedule.
func (h *History) AddWindow(w Window) {
	h.mu.Lock()
	h.Windows = append(h.Windows, w)
	h.mu.Unlock()
}

// AddObservation records a monitor poll.
func (h *History) AddObservation(o Observation) {
	h.mu.Lock()
	h.Observations = append(h.Observations, o)
	h.mu.Unlock()
}

// AddNode records a node that became a member.
func (h *History) AddNode(id string) {
	h.mu.Lock()
	if !slices.Contains(h.Nodes, id) {
		h.Nodes = append(h.Nodes, id)
	}
	h.mu.Unlock()
}

// Seal sorts the operations by invocation and numbers them. Call it once
// recording has stopped, before checking.
func (h *History) Seal() {
	h.mu.Lock()
	defer h.mu.Unlock()
	slices.SortStableFunc(h.Ops, func(a, b Op) int {
		return cmp.Or(cmp.Compare(a.InvokeNS, b.InvokeNS), cmp.Compare(a.Client, b.Client))
	})
	for i := range h.Ops {
		h.Ops[i].Index = i
	}
	slices.SortStableFunc(h.Nemesis, func(a, b NemesisEvent) int { return cmp.Compare(a.StartNS, b.StartNS) })
	slices.SortStableFunc(h.Windows, func(a, b Window) int { return cmp.Compare(a.StartNS, b.StartNS) })
	slices.SortStableFunc(h.Observations, func(a, b Observation) int { return cmp.Compare(a.AtNS, b.AtNS) })
}

// Count returns the number of operations with the given outcome.
func (h *History) Count(o Outcome) int {
	n := 0
	for _, op := range h.Ops {
		if op.Outcome == o {
			n++
		}
	}
	return n
}
